import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlatEipAgentPaths, type EipTO } from '../../src/contracts/eip-agent.ts';
import { NicQosAgentPaths } from '../../src/contracts/nic-qos.ts';
import { FlatEip } from '../../src/agent/network/eip.ts';
import { ifbOf } from '../../src/agent/network/qos.ts';
import { canRunAgentTests, PretendAgentHost } from './harness.ts';
import { measureTcp } from './tcp-throughput.ts';

const canRun = canRunAgentTests('ebtables', 'iptables', 'tc', 'nc', 'python3');

/** Test-only addresses (no other test uses 10.253.71-72): the private L3 and the public one. */
const PRIV = '10.253.71';
const PUB = '10.253.72';
const MASK = '255.255.255.0';
const EIP_UUID = 'e'.repeat(30) + '71';

const sh = (args: string[]) => execFileSync(args[0], args.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const ok = (args: string[]) => {
  try {
    sh(args);
    return true;
  } catch {
    return false;
  }
};

/**
 * A "VM" or an outside machine: a network namespace whose eth0 is a veth plugged into a bridge of the
 * pretend host. For EIPs and QoS that stands for a guest exactly: the host side of the veth is what a
 * tap is to a QEMU guest (a port of the bridge named by the NIC's internalName), and is shaped and
 * matched the same way. Much faster than booting guests.
 */
class Endpoint {
  readonly ns = `sge-${Math.random().toString(36).slice(2, 8)}`;
  readonly port = `g${this.ns.slice(4)}`;
  constructor(readonly host: PretendAgentHost, readonly mac: string, readonly ip: string, readonly gateway?: string) {}

  plug(bridge: string): void {
    sh(['ip', 'netns', 'add', this.ns]);
    sh(['ip', '-n', this.host.ns, 'link', 'add', this.port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.ns]);
    sh(['ip', '-n', this.host.ns, 'link', 'set', this.port, 'master', bridge]);
    sh(['ip', '-n', this.host.ns, 'link', 'set', this.port, 'up']);
    sh(['ip', '-n', this.ns, 'link', 'set', 'eth0', 'address', this.mac]);
    sh(['ip', '-n', this.ns, 'addr', 'add', `${this.ip}/24`, 'dev', 'eth0']);
    sh(['ip', '-n', this.ns, 'link', 'set', 'eth0', 'up']);
    sh(['ip', '-n', this.ns, 'link', 'set', 'lo', 'up']);
    if (this.gateway) sh(['ip', '-n', this.ns, 'route', 'add', 'default', 'via', this.gateway]);
  }

  run(args: string[]): string {
    return sh(['ip', 'netns', 'exec', this.ns, ...args]);
  }

  /** A TCP connection to ip:port answering what the other side's server wrote (its view of our address). */
  connect(ip: string, port: number): string | null {
    try {
      return this.run(['nc', '-w', '2', ip, String(port)]).trim();
    } catch {
      return null;
    }
  }

  /** A one-connection server writing the peer's address back, then closing. Returns its PID. */
  serveRemoteAddress(port: number): void {
    execFileSync('sh', ['-c', `ip netns exec ${this.ns} python3 -c "import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', ${port})); s.listen(1); s.settimeout(8)
c,a=s.accept(); c.sendall(a[0].encode()); c.close()" >/dev/null 2>&1 &`]);
    for (let i = 0; i < 40 && !this.run(['ss', '-ltn']).includes(`:${port} `); i++) sh(['sleep', '0.05']);
  }

  remove(): void {
    if (!ok(['ip', '-n', this.host.ns, 'link', 'del', this.port])) {
      /* never made, or gone with the host */
    }
    for (const pid of ok(['ip', 'netns', 'pids', this.ns]) ? sh(['ip', 'netns', 'pids', this.ns]).split('\n').filter(Boolean) : []) ok(['kill', '-9', pid]);
    ok(['ip', 'netns', 'del', this.ns]);
  }
}

describe.skipIf(!canRun)('agent: flat EIPs (NAT namespace per EIP) and NIC QoS (tc) on a pretend host', () => {
  const h = new PretendAgentHost();
  const vm = new Endpoint(h, '52:54:00:fd:71:10', `${PRIV}.10`, `${PRIV}.1`);
  const neighbour = new Endpoint(h, '52:54:00:fd:71:11', `${PRIV}.11`, `${PRIV}.1`);
  const outside = new Endpoint(h, '52:54:00:fd:72:50', `${PUB}.50`);
  const eip = (): EipTO => ({
    eipUuid: EIP_UUID, vmUuid: 'v'.repeat(32), vipUuid: 'p'.repeat(32), vip: `${PUB}.100`, vipNetmask: MASK, vipGateway: null,
    publicBridgeName: 'br_pub71', vmBridgeName: 'br_priv71', nicName: vm.port, nicIp: vm.ip, nicMac: vm.mac, nicNetmask: MASK, nicGateway: `${PRIV}.1`,
  });
  const call = (path: string, body: Record<string, unknown>) => h.client.call(h.endpoint, path, body);
  const names = () => new FlatEip(h.dataDir).names(EIP_UUID);
  const leftovers = () => {
    const n = names();
    return {
      namespace: existsSync(`/run/netns/${n.namespace}`),
      links: h.inNs(['ip', '-o', 'link']).includes(n.pubOuter) || h.inNs(['ip', '-o', 'link']).includes(n.privOuter),
      ebtables: (h.inNs(['ebtables', '-t', 'nat', '-L']) + h.inNs(['ebtables', '-L'])).includes(n.chain),
      state: existsSync(join(h.dataDir, 'eip')) && readdirSync(join(h.dataDir, 'eip')).length > 0,
    };
  };
  const none = { namespace: false, links: false, ebtables: false, state: false };

  beforeAll(async () => {
    await h.setUp();
    for (const br of ['br_pub71', 'br_priv71']) {
      h.inNs(['ip', 'link', 'add', br, 'type', 'bridge']);
      h.inNs(['ip', 'link', 'set', br, 'up']);
    }
    vm.plug('br_priv71');
    neighbour.plug('br_priv71');
    outside.plug('br_pub71');
    await h.startAgent();
  }, 60_000);

  afterAll(async () => {
    await call(FlatEipAgentPaths.batchApply, { eips: [], sync: true }).catch(() => undefined);
    for (const e of [vm, neighbour, outside]) e.remove();
    await h.tearDown();
  }, 60_000);

  it('refuses bad EIPs and QoS values before touching the host', async () => {
    await expect(call(FlatEipAgentPaths.apply, { eip: { ...eip(), vip: '10.253.72.300' } })).rejects.toThrow(/vip must be an IPv4 address/);
    await expect(call(FlatEipAgentPaths.apply, { eip: { ...eip(), nicGateway: '10.9.9.1' } })).rejects.toThrow(/not in the NIC's subnet/);
    await expect(call(FlatEipAgentPaths.apply, { eip: { ...eip(), nicName: 'x; rm -rf /' } })).rejects.toThrow(/nicName must be an interface name/);
    await expect(call(FlatEipAgentPaths.apply, { eip: { ...eip(), vmBridgeName: 'br_none71' } })).rejects.toThrow(/bridge br_none71 does not exist/);
    await expect(call(FlatEipAgentPaths.batchApply, { eips: [eip(), eip()] })).rejects.toThrow(/twice/);
    expect(leftovers()).toEqual(none);
    await expect(call(NicQosAgentPaths.set, { internalName: vm.port, inboundBandwidth: -5 })).rejects.toThrow(/between 8192 and/);
    await expect(call(NicQosAgentPaths.set, { internalName: vm.port, outboundBandwidth: 1e15 })).rejects.toThrow(/between 8192 and/);
    await expect(call(NicQosAgentPaths.set, { internalName: vm.port, inboundBandwidth: '10mbit' })).rejects.toThrow(/integer number of bits/);
    await expect(call(NicQosAgentPaths.set, { internalName: 'gnone71', inboundBandwidth: 1_000_000 })).rejects.toThrow(/no interface gnone71/);
    await expect(call(NicQosAgentPaths.set, { internalName: vm.port })).rejects.toThrow(/give inboundBandwidth/);
    expect(await call(NicQosAgentPaths.get, { internalName: vm.port })).toMatchObject({ inboundBandwidth: -1, outboundBandwidth: -1 });
  });

  it('an EIP makes the VM reachable at the VIP from the public network, and its traffic leaves as the VIP', async () => {
    expect(vm.connect(`${PUB}.50`, 8071)).toBeNull(); // before: no route out
    await call(FlatEipAgentPaths.apply, { eip: eip() });
    vm.serveRemoteAddress(8071);
    expect(outside.connect(`${PUB}.100`, 8071)).toBe(`${PUB}.50`); // DNAT: the VM saw the outside's own address
    outside.serveRemoteAddress(8072);
    expect(vm.connect(`${PUB}.50`, 8072)).toBe(`${PUB}.100`); // SNAT: the outside saw the VIP
    // applying the same EIP again changes nothing and keeps it working
    await call(FlatEipAgentPaths.apply, { eip: eip() });
    vm.serveRemoteAddress(8073);
    expect(outside.connect(`${PUB}.100`, 8073)).toBe(`${PUB}.50`);
  }, 30_000);

  it('only the EIP\'s NIC has the namespace as its gateway; the public side reaches no other private address', async () => {
    // the neighbour on the same L2 asks for the gateway address: nothing answers it (no real router here)
    expect(ok(['ip', 'netns', 'exec', neighbour.ns, 'ping', '-c', '1', '-W', '1', `${PRIV}.1`])).toBe(false);
    expect(neighbour.run(['ip', 'neigh', 'show', `${PRIV}.1`])).not.toMatch(/lladdr/);
    expect(neighbour.connect(`${PUB}.50`, 8074)).toBeNull();
    // the outside routes the private subnet through the VIP: only the EIP's NIC is reachable
    outside.run(['ip', 'route', 'add', `${PRIV}.0/24`, 'via', `${PUB}.100`]);
    try {
      neighbour.serveRemoteAddress(8075);
      expect(outside.connect(`${PRIV}.11`, 8075)).toBeNull();
    } finally {
      outside.run(['ip', 'route', 'del', `${PRIV}.0/24`]);
    }
  }, 30_000);

  it('a sync without the EIP removes it and everything it made; a delete of what is gone succeeds', async () => {
    expect(leftovers()).toEqual({ namespace: true, links: true, ebtables: true, state: true });
    expect(await call(FlatEipAgentPaths.batchApply, { eips: [], sync: true })).toMatchObject({ applied: [], removed: [EIP_UUID] });
    expect(leftovers()).toEqual(none);
    vm.serveRemoteAddress(8076);
    expect(outside.connect(`${PUB}.100`, 8076)).toBeNull();
    await call(FlatEipAgentPaths.delete, { eip: { eipUuid: EIP_UUID } });
    // batchapply brings it back; delete removes it
    expect(await call(FlatEipAgentPaths.batchApply, { eips: [eip()], sync: true })).toMatchObject({ applied: [EIP_UUID], removed: [] });
    vm.serveRemoteAddress(8077);
    expect(outside.connect(`${PUB}.100`, 8077)).toBe(`${PUB}.50`);
    await call(FlatEipAgentPaths.delete, { eip: { eipUuid: EIP_UUID } });
    expect(leftovers()).toEqual(none);
    expect(outside.connect(`${PUB}.100`, 8077)).toBeNull();
  }, 30_000);

  it('QoS caps the measured throughput into and out of the VM within 20 %, and removing it lifts the cap', async () => {
    const into = () => measureTcp({ receiverNs: vm.ns, receiverIp: vm.ip, senderNs: neighbour.ns, port: 8081, seconds: 3 });
    const outOf = () => measureTcp({ receiverNs: neighbour.ns, receiverIp: neighbour.ip, senderNs: vm.ns, port: 8082, seconds: 3 });
    const inbound = 8_000_000;
    const outbound = 4_000_000;
    const unlimited = await into();
    expect(unlimited).toBeGreaterThan(inbound * 4); // else the cap below would prove nothing
    expect(await call(NicQosAgentPaths.set, { internalName: vm.port, inboundBandwidth: inbound, outboundBandwidth: outbound })).toMatchObject({ inboundBandwidth: inbound, outboundBandwidth: outbound });
    const measuredIn = await into();
    const measuredOut = await outOf();
    console.info(`QoS: unlimited ${(unlimited / 1e6).toFixed(1)} Mbit/s; inbound cap ${inbound / 1e6} → ${(measuredIn / 1e6).toFixed(2)}; outbound cap ${outbound / 1e6} → ${(measuredOut / 1e6).toFixed(2)}`);
    expect(Math.abs(measuredIn - inbound) / inbound).toBeLessThan(0.2);
    expect(Math.abs(measuredOut - outbound) / outbound).toBeLessThan(0.2);
    // one direction changed alone, the other kept
    expect(await call(NicQosAgentPaths.set, { internalName: vm.port, inboundBandwidth: null })).toMatchObject({ inboundBandwidth: -1, outboundBandwidth: outbound });
    expect(await into()).toBeGreaterThan(inbound * 4);
    expect(await call(NicQosAgentPaths.set, { internalName: vm.port, outboundBandwidth: null })).toMatchObject({ outboundBandwidth: -1 });
    expect(h.inNs(['ip', '-o', 'link']).includes(ifbOf(vm.port))).toBe(false);
  }, 90_000);
});
