import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NoVlanAgentPaths } from '../../src/contracts/network-agent.ts';
import { OvsSwitch } from '../../src/agent/network/ovs.ts';
import { canRunAgentTests, linkHosts, PretendAgentHost, waitFor } from './harness.ts';
import { processRuns } from '../../src/agent/process-alive.ts';

const canRun = canRunAgentTests('ovs-vswitchd', 'ovsdb-server', 'ovs-vsctl', 'tcpdump', 'nc');

/** Test-only addresses: 10.253.71.0/24. Every endpoint shares it, so only the VLAN keeps them apart. */
const NET = '10.253.71';

const sh = (args: string[]) => execFileSync(args[0], args.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** An endpoint (what a VM's NIC is to the network): a namespace whose eth0 is a veth in a host's bridge. */
class Endpoint {
  readonly ns = `stv-${Math.random().toString(36).slice(2, 8)}`;
  readonly port = `v${this.ns.slice(4)}`;
  constructor(readonly host: PretendAgentHost, readonly ip: string) {}

  plug(bridge: string): void {
    sh(['ip', 'netns', 'add', this.ns]);
    sh(['ip', '-n', this.host.ns, 'link', 'add', this.port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.ns]);
    sh(['ip', '-n', this.host.ns, 'link', 'set', this.port, 'master', bridge]);
    sh(['ip', '-n', this.host.ns, 'link', 'set', this.port, 'up']);
    sh(['ip', '-n', this.ns, 'addr', 'add', `${this.ip}/24`, 'dev', 'eth0']);
    sh(['ip', '-n', this.ns, 'link', 'set', 'eth0', 'up']);
    sh(['ip', '-n', this.ns, 'link', 'set', 'lo', 'up']);
  }

  pings(ip: string): boolean {
    try {
      sh(['ip', 'netns', 'exec', this.ns, 'ping', '-c', '1', '-W', '1', ip]);
      return true;
    } catch {
      return false;
    }
  }

  remove(): void {
    try {
      sh(['ip', '-n', this.host.ns, 'link', 'del', this.port]);
    } catch {
      /* never made */
    }
    try {
      sh(['ip', 'netns', 'del', this.ns]);
    } catch {
      /* never made */
    }
  }
}

describe.skipIf(!canRun)('agent VLAN networks through Open vSwitch (userspace datapath) on two pretend hosts without 802.1Q', () => {
  const h1 = new PretendAgentHost();
  const h2 = new PretendAgentHost();
  const h3 = new PretendAgentHost(); // forced to the kernel driver, which this kernel lacks
  const a1 = new Endpoint(h1, `${NET}.11`);
  const b1 = new Endpoint(h1, `${NET}.13`);
  const a2 = new Endpoint(h2, `${NET}.12`);
  const b2 = new Endpoint(h2, `${NET}.14`);
  const endpoints = [a1, b1, a2, b2];
  const kernelHasVlans = (() => {
    try {
      const ns = `stvprobe-${process.pid}`;
      sh(['sh', '-c', `ip netns add ${ns} && (ip -n ${ns} link add p0 type veth peer name p1 && ip -n ${ns} link add link p0 name p0.5 type vlan id 5; r=$?; ip netns del ${ns}; exit $r)`]);
      return true;
    } catch {
      return false;
    }
  })();

  beforeAll(async () => {
    for (const h of [h1, h2, h3]) await h.setUp();
    linkHosts(h1, h2); // eth9 in each: the trunk between the two hosts
    h3.addInterface('eth9');
    await h1.startAgent();
    await h2.startAgent();
    process.env.STRATO_AGENT_VLAN_DRIVER = 'kernel';
    try {
      await h3.startAgent();
    } finally {
      delete process.env.STRATO_AGENT_VLAN_DRIVER;
    }
  }, 90_000);

  afterAll(async () => {
    for (const e of endpoints) e.remove();
    for (const h of [h1, h2, h3]) {
      const ovs = new OvsSwitch(h.dataDir);
      await ovs.stop();
      await waitFor('OVS daemons to exit', () => !(['ovs-vswitchd', 'ovsdb-server'] as const).some((d) => ovs.daemonRuns(d)), 10_000).catch(() => undefined);
      await h.tearDown();
    }
  }, 60_000);

  it('reports VLAN support as a host fact: OVS where the kernel has no 802.1Q, none when forced to the kernel', async () => {
    const f1 = await h1.client.callSync(h1.endpoint, '/host/connect', { hostUuid: 'c'.repeat(32), sendCommandUrl: h1.sendCommandUrl });
    expect(f1).toMatchObject({ vlanSupported: true, vlanDriver: kernelHasVlans ? 'kernel' : 'ovs' });
    const f3 = await h3.client.callSync(h3.endpoint, '/host/connect', { hostUuid: 'd'.repeat(32), sendCommandUrl: h3.sendCommandUrl });
    expect(f3).toMatchObject(kernelHasVlans ? { vlanSupported: true, vlanDriver: 'kernel' } : { vlanSupported: false, vlanDriver: null });
  });

  it.skipIf(kernelHasVlans)('a host that cannot make VLAN devices refuses a VLAN bridge clearly and makes nothing', async () => {
    await expect(h3.client.call(h3.endpoint, NoVlanAgentPaths.createBridge, { physicalInterfaceName: 'eth9.100' })).rejects.toThrow(/VLAN networks are unsupported on this host/);
    expect(h3.linkMaster('eth9.100')).toBeUndefined();
    expect(h3.linkMaster('br_eth9_100')).toBeUndefined();
    expect(existsSync(join(h3.dataDir, 'ovs'))).toBe(false);
  });

  it.skipIf(kernelHasVlans)('VLAN 100 endpoints on both hosts reach each other, VLAN 100 and 200 are isolated, and the trunk carries 802.1Q tags', async () => {
    for (const h of [h1, h2]) {
      for (const vid of [100, 200]) {
        expect(await h.client.call(h.endpoint, NoVlanAgentPaths.createBridge, { physicalInterfaceName: `eth9.${vid}` })).toMatchObject({ bridgeName: `br_eth9_${vid}` });
        // The ZStack layout: the Linux bridge br_eth9_<vid> holds eth9.<vid>, here the agent's OVS access port tag=<vid>.
        expect(h.linkMaster(`eth9.${vid}`)).toBe(`br_eth9_${vid}`);
        expect(await new OvsSwitch(h.dataDir).tagOf(`eth9.${vid}`)).toBe(vid);
      }
      // Idempotent: a second VM on the network finds it made.
      await h.client.call(h.endpoint, NoVlanAgentPaths.createBridge, { physicalInterfaceName: 'eth9.100' });
    }
    a1.plug('br_eth9_100');
    b1.plug('br_eth9_200');
    a2.plug('br_eth9_100');
    b2.plug('br_eth9_200');

    // A capture on h2's trunk while a1 pings a2 across it: the frames carry tag 100 on the wire.
    const capture = spawn('ip', ['netns', 'exec', h2.ns, 'timeout', '20', 'tcpdump', '-nn', '-e', '-l', '-i', 'eth9', '-c', '2', 'vlan 100 and icmp'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let trunk = '';
    capture.stdout.on('data', (c: Buffer) => (trunk += c.toString()));
    const captured = new Promise((r) => capture.once('exit', r));
    let captureErr = '';
    capture.stderr.on('data', (c: Buffer) => (captureErr += c.toString()));
    await waitFor('tcpdump to listen on the trunk', () => captureErr.includes('listening on'), 10_000);

    expect(await waitFor('a1 to reach a2 in VLAN 100 across the trunk', () => a1.pings(a2.ip), 20_000)).toBe(true);
    expect(b1.pings(b2.ip)).toBe(true); // VLAN 200 across the trunk
    await captured;
    expect(trunk).toMatch(/ethertype 802\.1Q \(0x8100\).*vlan 100.*ICMP echo/);

    // Same subnet, other VLAN: on the same host and across the trunk, nothing passes.
    expect(a1.pings(b1.ip)).toBe(false);
    expect(a1.pings(b2.ip)).toBe(false);
    expect(b2.pings(a2.ip)).toBe(false);

    // TCP in VLAN 100 across the trunk (the userspace datapath's checksum pitfall would drop it).
    const server = spawn('ip', ['netns', 'exec', a2.ns, 'sh', '-c', 'echo vlan-hello | timeout 10 nc -l -p 8071 -q 0'], { stdio: 'ignore' });
    try {
      const got = await waitFor('TCP across VLAN 100', () => {
        try {
          return sh(['ip', 'netns', 'exec', a1.ns, 'timeout', '3', 'nc', '-w', '2', a2.ip, '8071']).trim();
        } catch {
          return '';
        }
      }, 10_000);
      expect(got).toBe('vlan-hello');
    } finally {
      server.kill();
    }

    // The switch learned the endpoints per VLAN: a2's MAC in VLAN 100 and b2's in VLAN 200, both behind the trunk.
    const fdb = sh(['ovs-appctl', '-t', join(h1.dataDir, 'ovs', 'ovs-vswitchd.ctl'), 'fdb/show', 'ovs_eth9']);
    const macOf = (e: Endpoint) => (JSON.parse(sh(['ip', '-n', e.ns, '-j', 'link', 'show', 'eth0'])) as Array<{ address: string }>)[0].address;
    expect(fdb).toMatch(new RegExp(`\\s100\\s+${macOf(a2)}`));
    expect(fdb).toMatch(new RegExp(`\\s200\\s+${macOf(b2)}`));
  }, 90_000);

  it.skipIf(kernelHasVlans)('a restarted agent brings its OVS back after the daemons died, the VLAN ports again in their bridges', async () => {
    const ovs = new OvsSwitch(h1.dataDir);
    const pids = ['ovs-vswitchd', 'ovsdb-server'].map((d) => Number(readFileSync(join(ovs.dir, `${d}.pid`), 'utf8').trim()));
    await h1.stopAgent();
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    await waitFor('the OVS daemons to die', () => !pids.some((p) => processRuns(p)), 10_000);
    expect(a1.pings(a2.ip)).toBe(false); // nothing switches VLAN 100 any more
    await h1.startAgent();
    await waitFor('eth9.100 back in br_eth9_100', () => h1.linkMaster('eth9.100') === 'br_eth9_100', 20_000);
    expect(h1.linkMaster('eth9.200')).toBe('br_eth9_200');
    // If it never switches again, the message shows what OVS and the links looked like (how CI showed a killed
    // daemon left as a zombie that the agent took for alive and did not restart).
    await waitFor('a1 to reach a2 again', () => a1.pings(a2.ip), 20_000).catch((e: Error) => {
      const tail = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8').slice(-1500) : '(none)');
      const links = (() => {
        try {
          return sh(['ip', 'netns', 'exec', h1.ns, 'ip', '-br', 'link']);
        } catch (err) {
          return String(err);
        }
      })();
      throw new Error(`${e.message}; links on h1: ${links}; ovs-vswitchd.log: ${tail(join(ovs.dir, 'ovs-vswitchd.log'))}`);
    });
    expect(b1.pings(b2.ip)).toBe(true);
    expect(a1.pings(b2.ip)).toBe(false);
  }, 90_000);
});
