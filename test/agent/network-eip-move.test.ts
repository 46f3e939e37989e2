import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlatEipAgentPaths, type EipTO } from '../../src/contracts/eip-agent.ts';
import { FlatEip } from '../../src/agent/network/eip.ts';
import { canRunAgentTests, PretendAgentHost } from './harness.ts';

const canRun = canRunAgentTests('ebtables', 'iptables', 'nc', 'python3', 'busybox', 'nsenter', 'ping');

/** Test-only addresses (no other test uses 10.253.74-75). */
const PRIV = '10.253.74';
const PUB = '10.253.75';
const EIP_UUID = 'e'.repeat(30) + '74';

const sh = (args: string[]) => execFileSync(args[0], args.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const quiet = (args: string[]) => {
  try {
    sh(args);
  } catch {
    /* gone already */
  }
};

/**
 * An EIP moving with its VM from one pretend host to another (what the node does around a migration:
 * apply on the target, delete on the source, apply on the target again), with the public L2 a switch
 * (a bridge in a namespace) linking both hosts and the outside. The "VM" and the outside are namespaces on
 * veth ports, as in network-eip-qos.test.ts. Because the EIP's MACs come from its uuid, neither the
 * outside nor the guest needs to forget anything: the VIP and the gateway keep their MACs.
 */
describe.skipIf(!canRun)('agent: an EIP follows its VM to another host', () => {
  const h1 = new PretendAgentHost();
  const h2 = new PretendAgentHost();
  const vmNs = `sgm-${Math.random().toString(36).slice(2, 8)}`;
  const outNs = `sgm-${Math.random().toString(36).slice(2, 8)}`;
  const swNs = `sgm-${Math.random().toString(36).slice(2, 8)}`;
  const vmMac = '52:54:00:fd:74:10';
  const port = (h: PretendAgentHost) => `g${vmNs.slice(4)}${h === h1 ? 'a' : 'b'}`;
  const eip = (h: PretendAgentHost): EipTO => ({
    eipUuid: EIP_UUID, vip: `${PUB}.100`, vipNetmask: '255.255.255.0', vipGateway: null, publicBridgeName: 'br_pub74', vmBridgeName: 'br_priv74',
    nicName: port(h), nicIp: `${PRIV}.10`, nicMac: vmMac, nicNetmask: '255.255.255.0', nicGateway: `${PRIV}.1`,
  });
  /** The guest's eth0 is the peer of a port in `h`'s private bridge (a "tap" on that host). */
  const plugVm = (h: PretendAgentHost) => {
    sh(['ip', '-n', h.ns, 'link', 'add', port(h), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', vmNs]);
    sh(['ip', '-n', h.ns, 'link', 'set', port(h), 'master', 'br_priv74']);
    sh(['ip', '-n', h.ns, 'link', 'set', port(h), 'up']);
    sh(['ip', '-n', vmNs, 'link', 'set', 'eth0', 'address', vmMac]);
    sh(['ip', '-n', vmNs, 'addr', 'add', `${PRIV}.10/24`, 'dev', 'eth0']);
    sh(['ip', '-n', vmNs, 'link', 'set', 'eth0', 'up']);
    sh(['ip', '-n', vmNs, 'route', 'add', 'default', 'via', `${PRIV}.1`]);
  };
  const serveOnVm = (p: number) => {
    execFileSync('sh', ['-c', `ip netns exec ${vmNs} python3 -c "import socket
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', ${p})); s.listen(1); s.settimeout(8)
c,a=s.accept(); c.sendall(a[0].encode()); c.close()" >/dev/null 2>&1 &`]);
    for (let i = 0; i < 40 && !sh(['ip', 'netns', 'exec', vmNs, 'ss', '-ltn']).includes(`:${p} `); i++) sh(['sleep', '0.05']);
  };
  const fromOutside = (p: number) => {
    try {
      return sh(['ip', 'netns', 'exec', outNs, 'nc', '-w', '3', `${PUB}.100`, String(p)]).trim();
    } catch {
      return null;
    }
  };
  const call = (h: PretendAgentHost, path: string, body: Record<string, unknown>) => h.client.call(h.endpoint, path, body);

  beforeAll(async () => {
    await Promise.all([h1.setUp(), h2.setUp()]);
    // the public L2: a switch (a bridge in a namespace of its own) with an uplink to each host and the outside on it
    sh(['ip', 'netns', 'add', swNs]);
    sh(['ip', '-n', swNs, 'link', 'add', 'br0', 'type', 'bridge']);
    sh(['ip', '-n', swNs, 'link', 'set', 'br0', 'up']);
    const uplink = (name: string, peerNs: string, peerName: string) => {
      sh(['ip', '-n', swNs, 'link', 'add', name, 'type', 'veth', 'peer', 'name', peerName, 'netns', peerNs]);
      sh(['ip', '-n', swNs, 'link', 'set', name, 'master', 'br0']);
      sh(['ip', '-n', swNs, 'link', 'set', name, 'up']);
      sh(['ip', '-n', peerNs, 'link', 'set', peerName, 'up']);
    };
    uplink('to1', h1.ns, 'eth8');
    uplink('to2', h2.ns, 'eth8');
    sh(['ip', 'netns', 'add', outNs]);
    uplink('toout', outNs, 'eth0');
    sh(['ip', '-n', outNs, 'addr', 'add', `${PUB}.50/24`, 'dev', 'eth0']);
    for (const h of [h1, h2]) {
      for (const br of ['br_pub74', 'br_priv74']) {
        h.inNs(['ip', 'link', 'add', br, 'type', 'bridge']);
        h.inNs(['ip', 'link', 'set', br, 'up']);
      }
      h.inNs(['ip', 'link', 'set', 'eth8', 'master', 'br_pub74']);
    }
    sh(['ip', 'netns', 'add', vmNs]);
    sh(['ip', '-n', vmNs, 'link', 'set', 'lo', 'up']);
    await Promise.all([h1.startAgent(), h2.startAgent()]);
  }, 90_000);

  afterAll(async () => {
    for (const h of [h1, h2]) await call(h, FlatEipAgentPaths.batchApply, { eips: [], sync: true }).catch(() => undefined);
    for (const ns of [vmNs, outNs, swNs]) quiet(['ip', 'netns', 'del', ns]);
    await h1.tearDown();
    await h2.tearDown();
  }, 60_000);

  it('applied on the target and deleted on the source, the EIP answers from the target with the same MACs', async () => {
    plugVm(h1);
    await call(h1, FlatEipAgentPaths.apply, { eip: eip(h1) });
    serveOnVm(8074);
    expect(fromOutside(8074)).toBe(`${PUB}.50`);
    const neigh = (ns: string, ip: string) => sh(['ip', '-n', ns, 'neigh', 'show', ip]).match(/lladdr (\S+)/)?.[1];
    const vipMac = neigh(outNs, `${PUB}.100`);
    const gatewayMac = neigh(vmNs, `${PRIV}.1`);
    expect(vipMac).toMatch(/^02:/);
    expect(gatewayMac).toMatch(/^02:/);

    // the move: the guest's port is now on h2; the node applies there, then deletes on h1 (whose
    // namespace speaks last here, as a source still serving until the switch-over would)
    quiet(['ip', '-n', h1.ns, 'link', 'del', port(h1)]);
    plugVm(h2);
    await call(h2, FlatEipAgentPaths.apply, { eip: eip(h2) });
    const ns1 = new FlatEip(h1.dataDir).names(EIP_UUID).namespace;
    // h1's namespace speaks last (as a source serving until the switch-over does): the switch now sends
    // the VIP's MAC to h1 (the agent's namespaces are mounted in its own mount namespace: enter it)
    sh(['nsenter', '-t', String(h1.agent!.pid), '-m', 'ip', 'netns', 'exec', ns1, 'ping', '-c', '1', '-W', '1', `${PUB}.50`]);
    await call(h1, FlatEipAgentPaths.delete, { eip: { eipUuid: EIP_UUID } });
    expect(h1.inNs(['ip', '-o', 'link'])).not.toMatch(/ep[0-9a-f]{12}/);
    serveOnVm(8075);
    // once h1 is cleared the node applies on the target again, which announces the VIP from there
    await call(h2, FlatEipAgentPaths.apply, { eip: eip(h2) });
    const got = fromOutside(8075);
    expect(got).toBe(`${PUB}.50`);
    // nobody had to learn a new MAC
    expect(neigh(outNs, `${PUB}.100`)).toBe(vipMac);
    expect(neigh(vmNs, `${PRIV}.1`)).toBe(gatewayMac);
  }, 60_000);
});
