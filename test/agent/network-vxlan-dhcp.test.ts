import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlatDhcpAgentPaths, VxlanAgentPaths } from '../../src/contracts/network-agent.ts';
import { FlatDhcp } from '../../src/agent/network/flat-dhcp.ts';
import { canRunAgentTests, linkHosts, PretendAgentHost } from './harness.ts';

const canRun = canRunAgentTests('dnsmasq', 'busybox', 'bridge', 'ebtables');

/** Test-only addresses: 10.253.61.0/24 (no other test uses 10.253). Both L3s share it, so only L2 isolation keeps them apart. */
const NET = '10.253.61';
const MASK = '255.255.255.0';
const VNI_A = 5301;
const VNI_B = 5302;
const L3_A = 'a'.repeat(30) + '61';
const L3_B = 'b'.repeat(30) + '61';

const sh = (args: string[]) => execFileSync(args[0], args.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** A "guest": a network namespace whose eth0 (with the NIC's MAC) is a veth plugged into a host's bridge. */
class Guest {
  readonly ns = `stg-${Math.random().toString(36).slice(2, 8)}`;
  readonly port = `g${this.ns.slice(4)}`;
  constructor(readonly host: PretendAgentHost, readonly mac: string) {}

  plug(bridge: string): void {
    sh(['ip', 'netns', 'add', this.ns]);
    sh(['ip', '-n', this.host.ns, 'link', 'add', this.port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.ns]);
    sh(['ip', '-n', this.host.ns, 'link', 'set', this.port, 'master', bridge]);
    sh(['ip', '-n', this.host.ns, 'link', 'set', this.port, 'up']);
    sh(['ip', '-n', this.ns, 'link', 'set', 'eth0', 'address', this.mac]);
    sh(['ip', '-n', this.ns, 'link', 'set', 'eth0', 'up']);
    sh(['ip', '-n', this.ns, 'link', 'set', 'lo', 'up']);
  }

  /** busybox udhcpc on eth0: what the script saw bound (ip, mask, router, dns, hostname), or null without a lease. */
  dhcp(script: string): Record<string, string> | null {
    sh(['ip', '-n', this.ns, 'addr', 'flush', 'dev', 'eth0']);
    const out = join(script, '..', `${this.ns}.lease`);
    rmSync(out, { force: true });
    try {
      sh(['ip', 'netns', 'exec', this.ns, 'env', `OUT=${out}`, 'busybox', 'udhcpc', '-i', 'eth0', '-O', 'mtu', '-f', '-q', '-n', '-t', '4', '-T', '1', '-s', script]);
    } catch {
      return null;
    }
    return Object.fromEntries(readFileSync(out, 'utf8').trim().split('\n').map((l) => l.split('=') as [string, string]));
  }

  pings(ip: string): boolean {
    try {
      sh(['ip', 'netns', 'exec', this.ns, 'ping', '-c', '1', '-W', '1', ip]);
      return true;
    } catch {
      return false;
    }
  }

  /** The host's end first: a namespace's links go away asynchronously after `ip netns del`. */
  remove(): void {
    try {
      sh(['ip', '-n', this.host.ns, 'link', 'del', this.port]);
    } catch {
      /* never made, or gone */
    }
    try {
      sh(['ip', 'netns', 'del', this.ns]);
    } catch {
      /* never made */
    }
  }
}

describe.skipIf(!canRun)('agent networks: VXLAN across two pretend hosts, flat distributed DHCP from IPAM leases', () => {
  const h1 = new PretendAgentHost();
  const h2 = new PretendAgentHost();
  const work = mkdtempSync('/tmp/strato-test-netdhcp-');
  const script = join(work, 'udhcpc.sh');
  const lease = (mac: string, ip: string, hostname: string) => ({ mac, ip, netmask: MASK, gateway: `${NET}.1`, hostname, dns: [`${NET}.53`], mtu: 1450 });
  const g1 = new Guest(h1, '52:54:00:fd:61:11');
  const g2 = new Guest(h2, '52:54:00:fd:61:12');
  const g3 = new Guest(h2, '52:54:00:fd:61:13');
  let underlay: { aIp: string; bIp: string };
  const call = (h: PretendAgentHost, path: string, body: Record<string, unknown>) => h.client.call(h.endpoint, path, body);
  /** The DHCP namespaces of this test's hosts that exist (other tests may have their own meanwhile). */
  const dhcpNamespaces = () => {
    const ours = [h1, h2].flatMap((h) => [L3_A, L3_B].map((l3) => new FlatDhcp(h.dataDir).names(l3).namespace));
    return ours.filter((n) => existsSync(`/run/netns/${n}`));
  };

  beforeAll(async () => {
    writeFileSync(script, [
      '#!/bin/sh',
      '[ "$1" = bound ] || exit 0',
      'ip addr add "$ip/$mask" dev "$interface"',
      'printf "ip=%s\\nmask=%s\\nrouter=%s\\ndns=%s\\nhostname=%s\\nmtu=%s\\n" "$ip" "$mask" "$router" "$dns" "$hostname" "$mtu" > "$OUT"',
      '',
    ].join('\n'));
    chmodSync(script, 0o755);
    await Promise.all([h1.setUp(), h2.setUp()]);
    underlay = linkHosts(h1, h2);
    await Promise.all([h1.startAgent(), h2.startAgent()]);
  }, 90_000);

  afterAll(async () => {
    for (const g of [g1, g2, g3]) g.remove();
    for (const h of [h1, h2]) {
      for (const l3 of [L3_A, L3_B]) await call(h, FlatDhcpAgentPaths.deleteNamespace, { l3NetworkUuid: l3 }).catch(() => undefined);
      await h.tearDown();
    }
    rmSync(work, { recursive: true, force: true });
  }, 60_000);

  it('realizes a VNI on both hosts (VTEP on the underlay address, unicast peers) and a second VNI on one', async () => {
    const r1 = await call(h1, VxlanAgentPaths.createBridge, { vni: VNI_A, vtepIp: underlay.aIp, peers: [underlay.bIp] });
    expect(r1).toMatchObject({ bridgeName: `br_vx_${VNI_A}` });
    await call(h2, VxlanAgentPaths.createBridge, { vni: VNI_A, vtepIp: underlay.bIp, peers: [underlay.aIp, underlay.bIp] });
    await call(h2, VxlanAgentPaths.createBridge, { vni: VNI_B, vtepIp: underlay.bIp, peers: [underlay.aIp] });
    // idempotent: a second create changes nothing
    await call(h1, VxlanAgentPaths.createBridge, { vni: VNI_A, vtepIp: underlay.aIp, peers: [underlay.bIp] });
    const vtep = JSON.parse(h1.inNs(['ip', '-j', '-d', 'link', 'show', `vxlan${VNI_A}`])) as Array<{ master: string; linkinfo: { info_data: { id: number; local: string; port: number; learning: boolean } } }>;
    expect(vtep[0]).toMatchObject({ master: `br_vx_${VNI_A}`, linkinfo: { info_data: { id: VNI_A, local: underlay.aIp, port: 4789, learning: false } } });
    const fdb = (h: PretendAgentHost, vni: number) => (JSON.parse(h.inNs(['bridge', '-j', 'fdb', 'show', 'dev', `vxlan${vni}`])) as Array<{ mac: string; dst?: string }>).filter((e) => e.mac === '00:00:00:00:00:00').map((e) => e.dst);
    expect(fdb(h1, VNI_A)).toEqual([underlay.bIp]);
    expect(fdb(h2, VNI_A)).toEqual([underlay.aIp]); // its own address is never a peer
  });

  it('refuses bad input before touching the host', async () => {
    await expect(call(h1, VxlanAgentPaths.createBridge, { vni: 0, vtepIp: underlay.aIp })).rejects.toThrow(/vni/);
    await expect(call(h1, VxlanAgentPaths.createBridge, { vni: 5399, vtepIp: '10.253.99.9' })).rejects.toThrow(/not an address of this host/);
    await expect(call(h1, VxlanAgentPaths.populateFdb, { vni: 5399, peers: [] })).rejects.toThrow(/not realized/);
    await expect(call(h1, FlatDhcpAgentPaths.prepare, { l3NetworkUuid: L3_A, bridgeName: 'br_vx_5399', dhcpServerIp: `${NET}.2`, dhcpNetmask: MASK })).rejects.toThrow(/does not exist/);
    await expect(call(h1, FlatDhcpAgentPaths.apply, { l3NetworkUuid: L3_A, dhcp: [lease('52:54:00:fd:61:11', `${NET}.11`, 'g1')] })).rejects.toThrow(/not prepared/);
    expect(h1.inNs(['ip', '-o', 'link']).includes('5399')).toBe(false);
    expect(dhcpNamespaces()).toEqual([]);
  });

  it('guests on two hosts get the addresses the node gave from their own host\'s dnsmasq and ping each other over VXLAN', async () => {
    for (const [h, l3, vni] of [[h1, L3_A, VNI_A], [h2, L3_A, VNI_A], [h2, L3_B, VNI_B]] as const) {
      // every host's namespace of an L3 holds the same DHCP server address (ZStack's flat network)
      await call(h, FlatDhcpAgentPaths.prepare, { l3NetworkUuid: l3, bridgeName: `br_vx_${vni}`, dhcpServerIp: `${NET}.${l3 === L3_A ? 2 : 3}`, dhcpNetmask: MASK });
    }
    await call(h1, FlatDhcpAgentPaths.apply, { l3NetworkUuid: L3_A, dhcp: [lease(g1.mac, `${NET}.11`, 'guest-one')] });
    await call(h2, FlatDhcpAgentPaths.apply, { l3NetworkUuid: L3_A, dhcp: [lease(g2.mac, `${NET}.12`, 'guest-two')] });
    await call(h2, FlatDhcpAgentPaths.apply, { l3NetworkUuid: L3_B, dhcp: [lease(g3.mac, `${NET}.13`, 'guest-three')] });
    g1.plug(`br_vx_${VNI_A}`);
    g2.plug(`br_vx_${VNI_A}`);
    g3.plug(`br_vx_${VNI_B}`);
    expect(g1.dhcp(script)).toEqual({ ip: `${NET}.11`, mask: '24', router: `${NET}.1`, dns: `${NET}.53`, hostname: 'guest-one', mtu: '1450' });
    expect(g2.dhcp(script)).toMatchObject({ ip: `${NET}.12`, hostname: 'guest-two' });
    expect(g3.dhcp(script)).toMatchObject({ ip: `${NET}.13`, hostname: 'guest-three' });
    // each host's dnsmasq hears only its own host's guests: the tunnel carries no DHCP to or from it
    const dnsmasqLog = (h: PretendAgentHost, l3: string) => readFileSync(join(h.dataDir, 'dhcp', l3, 'dnsmasq.log'), 'utf8');
    expect(dnsmasqLog(h1, L3_A)).toContain(`DHCPACK(inner0) ${NET}.11 ${g1.mac}`);
    expect(dnsmasqLog(h1, L3_A)).not.toContain(g2.mac);
    expect(dnsmasqLog(h2, L3_A)).not.toContain(g1.mac);
    expect(g1.pings(`${NET}.12`)).toBe(true);
    expect(g2.pings(`${NET}.11`)).toBe(true);
    // the second VNI is another L2: same subnet, yet unreachable
    expect(g1.pings(`${NET}.13`)).toBe(false);
    expect(g2.pings(`${NET}.13`)).toBe(false);
  }, 60_000);

  it('the peer list is what populatefdb last said: without h2 as a peer, h1 cannot reach it', async () => {
    expect(await call(h1, VxlanAgentPaths.populateFdb, { vni: VNI_A, peers: [] })).toMatchObject({ peers: [] });
    h1.inNs(['ip', 'neigh', 'flush', 'all']);
    sh(['ip', '-n', g1.ns, 'neigh', 'flush', 'all']);
    expect(g1.pings(`${NET}.12`)).toBe(false);
    expect(await call(h1, VxlanAgentPaths.populateFdb, { vni: VNI_A, peers: [underlay.bIp] })).toMatchObject({ peers: [underlay.bIp] });
    expect(g1.pings(`${NET}.12`)).toBe(true);
  }, 30_000);

  it('leases follow the node: a released NIC gets nothing, a changed one gets its new address', async () => {
    await call(h2, FlatDhcpAgentPaths.release, { l3NetworkUuid: L3_A, dhcp: [{ mac: g2.mac }] });
    expect(g2.dhcp(script)).toBeNull(); // nor from h1's dnsmasq across the tunnel: it serves only its own host
    await call(h2, FlatDhcpAgentPaths.apply, { l3NetworkUuid: L3_A, dhcp: [lease(g2.mac, `${NET}.22`, 'guest-two')] });
    expect(g2.dhcp(script)).toMatchObject({ ip: `${NET}.22` });
    expect(g1.pings(`${NET}.22`)).toBe(true);
    await expect(call(h2, FlatDhcpAgentPaths.apply, { l3NetworkUuid: L3_A, dhcp: [lease('52:54:00:fd:61:99', `${NET}.22`, 'dup')] })).rejects.toThrow(/both/);
  }, 60_000);

  it('clean-up leaves no DHCP namespace, dnsmasq, bridge or VTEP; a bridge still in use stays', async () => {
    const served = [[h1, L3_A], [h2, L3_A], [h2, L3_B]] as const;
    const pids = served.map(([h, l3]) => readFileSync(join(h.dataDir, 'dhcp', l3, 'dnsmasq.pid'), 'utf8').trim());
    for (const pid of pids) expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).toContain('dnsmasq');
    for (const [h, l3] of served) await call(h, FlatDhcpAgentPaths.deleteNamespace, { l3NetworkUuid: l3 });
    expect(dhcpNamespaces()).toEqual([]);
    // gone, or a zombie until its reaper (the machine's init) collects it: either way no dnsmasq any more
    for (const pid of pids) expect(existsSync(`/proc/${pid}`) ? readFileSync(`/proc/${pid}/cmdline`, 'utf8') : '').not.toContain('dnsmasq');
    expect(await call(h1, VxlanAgentPaths.deleteBridge, { vni: VNI_A })).toMatchObject({ deleted: false, users: [g1.port] });
    for (const g of [g1, g2, g3]) g.remove();
    for (const [h, vni] of [[h1, VNI_A], [h2, VNI_A], [h2, VNI_B]] as const) expect(await call(h, VxlanAgentPaths.deleteBridge, { vni })).toMatchObject({ deleted: true });
    for (const h of [h1, h2]) {
      expect(h.inNs(['ip', '-o', 'link']).match(/vxlan53|br_vx_|vd[0-9a-f]{12}/g)).toBeNull();
      expect(h.inNs(['ebtables', '-L'])).not.toMatch(/strato-dhcp/);
    }
  }, 30_000);
});
