import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecurityGroupAgentPaths, type SecurityGroupNicTO, type SecurityGroupRuleTO } from '../../src/contracts/security-group.ts';
import { canRunAgentTests, PretendAgentHost, waitFor } from './harness.ts';

const canRun = canRunAgentTests('iptables', 'iptables-restore', 'ip6tables-restore', 'ebtables-restore', 'busybox', 'nc', 'ping');

/** Test-only addresses: 10.253.71.0/24 and fd00:253:71::/64 (no other test uses them). */
const NET = '10.253.71';
const NET6 = 'fd00:253:71:';
const SG = 'f'.repeat(30) + '71';
const OTHER_SG = 'e'.repeat(30) + '71';
const BRIDGE = 'brsg71';

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
 * A "VM": a namespace whose eth0 is a veth whose host end sits in the pretend host's bridge. The host
 * end plays the VM's tap: br_netfilter's physdev match sees bridge ports by name, whatever their
 * kind, so the same rules guard a veth port as a QEMU tap (the system test uses real taps).
 */
class NsVm {
  readonly ns = `ssg-${Math.random().toString(36).slice(2, 8)}`;
  readonly tap = `sgv${this.ns.slice(4)}`;
  readonly servers: ChildProcess[] = [];
  readonly ip6: string;
  constructor(readonly host: PretendAgentHost, readonly mac: string, readonly ip: string) {
    this.ip6 = `${NET6}:${ip.split('.')[3]}`;
  }

  plug(): void {
    sh(['ip', 'netns', 'add', this.ns]);
    sh(['ip', '-n', this.host.ns, 'link', 'add', this.tap, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.ns]);
    sh(['ip', '-n', this.host.ns, 'link', 'set', this.tap, 'master', BRIDGE]);
    sh(['ip', '-n', this.host.ns, 'link', 'set', this.tap, 'up']);
    sh(['ip', '-n', this.ns, 'link', 'set', 'eth0', 'address', this.mac]);
    sh(['ip', '-n', this.ns, 'addr', 'add', `${this.ip}/24`, 'dev', 'eth0']);
    sh(['ip', '-n', this.ns, 'addr', 'add', `${this.ip6}/64`, 'dev', 'eth0', 'nodad']);
    sh(['ip', '-n', this.ns, 'link', 'set', 'eth0', 'up']);
    sh(['ip', '-n', this.ns, 'link', 'set', 'lo', 'up']);
  }

  /** A TCP listener accepting connection after connection (netcat; killed by PID in remove). */
  listen(port: number): void {
    for (const family of ['-4', '-6']) this.servers.push(spawn('ip', ['netns', 'exec', this.ns, 'nc', family, '-l', '-k', String(port)], { stdio: 'ignore' }));
  }

  connects(ip: string, port: number): boolean {
    return ok(['ip', 'netns', 'exec', this.ns, 'nc', '-z', '-w', '2', ip, String(port)]);
  }

  pings(ip: string, from?: string): boolean {
    return ok(['ip', 'netns', 'exec', this.ns, 'ping', '-c', '1', '-W', '1', ...(from ? ['-I', from] : []), ip]);
  }

  nic(securityGroupUuids: string[], extra: Partial<SecurityGroupNicTO> = {}): SecurityGroupNicTO {
    return { vmNicUuid: `nic-${this.tap}`, internalName: this.tap, mac: this.mac, ips: [this.ip, this.ip6], securityGroupUuids, ...extra };
  }

  remove(): void {
    for (const s of this.servers) s.kill('SIGKILL');
    for (const args of [['ip', '-n', this.host.ns, 'link', 'del', this.tap], ['ip', 'netns', 'del', this.ns]]) ok(args);
  }
}

const rule = (r: Partial<SecurityGroupRuleTO>): SecurityGroupRuleTO => ({ type: 'Ingress', protocol: 'ALL', ipVersion: 4, startPort: -1, endPort: -1, allowedCidr: '0.0.0.0/0', action: 'ACCEPT', priority: 1, ...r });

describe.skipIf(!canRun)('agent security groups: iptables physdev + conntrack on a pretend host bridge', () => {
  const host = new PretendAgentHost();
  const web = new NsVm(host, '52:54:00:fd:71:11', `${NET}.11`);
  const peer = new NsVm(host, '52:54:00:fd:71:12', `${NET}.12`);
  const outsider = new NsVm(host, '52:54:00:fd:71:13', `${NET}.13`);
  const call = (path: string, body: Record<string, unknown>) => host.client.call(host.endpoint, path, body);
  /** The group's rules as the node sends them: the default rule (ingress from members) plus `extra`. */
  const groupRules = (...extra: SecurityGroupRuleTO[]) => ({ [SG]: [
    ...[4, 6].flatMap((ipVersion) => (['Ingress', 'Egress'] as const).map((type) => rule({ type, ipVersion, priority: 0, remoteGroupIps: [web.ip, peer.ip, web.ip6, peer.ip6] }))),
    ...extra,
  ] });
  const iptablesRules = () => host.inNs(['iptables', '-S']) + host.inNs(['ip6tables', '-S']);

  beforeAll(async () => {
    await host.setUp();
    host.inNs(['ip', 'link', 'add', BRIDGE, 'type', 'bridge']);
    host.inNs(['ip', 'link', 'set', BRIDGE, 'up']);
    for (const vm of [web, peer, outsider]) vm.plug();
    for (const port of [80, 8080]) web.listen(port);
    await host.startAgent();
    // before any rule: everything is open
    expect(await waitFor('the listener', () => outsider.connects(web.ip, 80), 10_000)).toBe(true);
  }, 60_000);

  afterAll(async () => {
    for (const vm of [web, peer, outsider]) vm.remove();
    await host.tearDown();
  }, 30_000);

  it('a group allowing tcp/8080 lets it through and blocks tcp/80 and ping from outside; members still reach each other', async () => {
    // bridged traffic reaches iptables only through br_netfilter's hook: the agent turns it on
    host.inNs(['sysctl', '-qw', 'net.bridge.bridge-nf-call-iptables=0']);
    const r = await call(SecurityGroupAgentPaths.applyRules, { nics: [web.nic([SG]), peer.nic([SG])], rules: groupRules(rule({ protocol: 'TCP', startPort: 8080, endPort: 8080 })) });
    expect(r).toMatchObject({ applied: [web.tap, peer.tap] });
    expect(host.inNs(['sysctl', '-n', 'net.bridge.bridge-nf-call-iptables']).trim()).toBe('1');
    expect(outsider.connects(web.ip, 8080)).toBe(true);
    expect(outsider.connects(web.ip, 80)).toBe(false);
    expect(outsider.pings(web.ip)).toBe(false);
    expect(peer.pings(web.ip)).toBe(true); // the default rule: members of the group
    expect(peer.connects(web.ip, 80)).toBe(true);
    expect(web.pings(outsider.ip)).toBe(true); // egress allowed, the reply comes back through conntrack
    // IPv6 the same: the 8080 rule is IPv4's, so nothing gets in over IPv6 but from members
    expect(outsider.connects(web.ip6, 8080)).toBe(false);
    expect(outsider.pings(web.ip6)).toBe(false);
    expect(peer.connects(web.ip6, 80)).toBe(true);
    expect(web.pings(outsider.ip6)).toBe(true); // neighbour discovery works both ways
    // idempotent: the same command again leaves the same ruleset
    const before = iptablesRules();
    await call(SecurityGroupAgentPaths.applyRules, { nics: [web.nic([SG]), peer.nic([SG])], rules: groupRules(rule({ protocol: 'TCP', startPort: 8080, endPort: 8080 })) });
    expect(iptablesRules()).toBe(before);
  }, 60_000);

  it('a rule added takes effect at once, and a rule deleted stops letting traffic in', async () => {
    await call(SecurityGroupAgentPaths.applyRules, { nics: [web.nic([SG])], rules: groupRules(rule({ protocol: 'TCP', startPort: 8080, endPort: 8080 }), rule({ protocol: 'TCP', startPort: 80, endPort: 80, allowedCidr: `${outsider.ip}/32` }), rule({ protocol: 'ICMP' }), rule({ protocol: 'TCP', startPort: 8080, endPort: 8080, ipVersion: 6, allowedCidr: '::/0' })) });
    expect(outsider.connects(web.ip, 80)).toBe(true);
    expect(outsider.pings(web.ip)).toBe(true);
    expect(outsider.connects(web.ip6, 8080)).toBe(true);
    expect(outsider.connects(web.ip6, 80)).toBe(false);
    await call(SecurityGroupAgentPaths.applyRules, { nics: [web.nic([SG])], rules: groupRules(rule({ protocol: 'TCP', startPort: 8080, endPort: 8080 })) });
    expect(outsider.pings(web.ip)).toBe(false);
    expect(outsider.connects(web.ip, 80)).toBe(false);
  }, 60_000);

  it('drops what a member sends from an address or MAC not its own', async () => {
    sh(['ip', '-n', web.ns, 'addr', 'add', `${NET}.99/24`, 'dev', 'eth0']);
    sh(['ip', '-n', web.ns, 'addr', 'add', `${NET6}:99/64`, 'dev', 'eth0', 'nodad']);
    try {
      expect(web.pings(outsider.ip, web.ip)).toBe(true);
      expect(web.pings(outsider.ip, `${NET}.99`)).toBe(false);
      expect(web.pings(outsider.ip6, web.ip6)).toBe(true);
      expect(web.pings(outsider.ip6, `${NET6}:99`)).toBe(false);
    } finally {
      sh(['ip', '-n', web.ns, 'addr', 'del', `${NET}.99/24`, 'dev', 'eth0']);
      sh(['ip', '-n', web.ns, 'addr', 'del', `${NET6}:99/64`, 'dev', 'eth0']);
    }
    sh(['ip', '-n', web.ns, 'link', 'set', 'eth0', 'address', '52:54:00:fd:71:99']);
    try {
      sh(['ip', '-n', outsider.ns, 'neigh', 'flush', 'all']);
      expect(web.pings(outsider.ip)).toBe(false);
    } finally {
      sh(['ip', '-n', web.ns, 'link', 'set', 'eth0', 'address', web.mac]);
      sh(['ip', '-n', outsider.ns, 'neigh', 'flush', 'all']);
    }
    expect(web.pings(outsider.ip)).toBe(true);
    // ARP claiming another member's address (a gratuitous update) never reaches the outsider's neighbour table
    const macOf = (ip: string) => (JSON.parse(sh(['ip', '-n', outsider.ns, '-j', 'neigh', 'show', ip])) as Array<{ lladdr?: string }>)[0]?.lladdr;
    expect(peer.pings(outsider.ip)).toBe(true); // the outsider learns the peer's MAC from its ARP request
    expect(macOf(peer.ip)).toBe(peer.mac);
    sh(['ip', '-n', web.ns, 'addr', 'add', `${peer.ip}/32`, 'dev', 'eth0']);
    try {
      sh(['ip', 'netns', 'exec', web.ns, 'busybox', 'arping', '-U', '-c', '2', '-I', 'eth0', '-s', peer.ip, peer.ip]);
    } catch {
      /* arping exits non-zero when nobody answers an unsolicited ARP */
    } finally {
      sh(['ip', '-n', web.ns, 'addr', 'del', `${peer.ip}/32`, 'dev', 'eth0']);
    }
    expect(macOf(peer.ip)).toBe(peer.mac);
    expect(host.inNs(['ebtables-save'])).toContain(`-A sga-${web.tap} -p ARP --arp-ip-src ${web.ip} --arp-mac-src ${web.mac} -j RETURN`);
    // VLAN-tagged frames (iptables would not look inside) and DHCP server replies from a member: dropped
    expect(host.inNs(['ebtables-save'])).toContain(`-A sga-${web.tap} -p 802_1Q -j DROP`);
    expect(host.inNs(['iptables', '-S', `sge-${web.tap}`]).split('\n')[1]).toBe(`-A sge-${web.tap} -p udp -m udp --sport 67 --dport 68 -j DROP`);
  }, 60_000);

  it('refuses bad input before touching the ruleset', async () => {
    const before = iptablesRules();
    await expect(call(SecurityGroupAgentPaths.applyRules, { nics: [web.nic([OTHER_SG])], rules: groupRules() })).rejects.toThrow(/were not given/);
    await expect(call(SecurityGroupAgentPaths.applyRules, { nics: [web.nic([SG], { mac: 'zz' })], rules: groupRules() })).rejects.toThrow(/not a MAC/);
    await expect(call(SecurityGroupAgentPaths.applyRules, { nics: [web.nic([SG])], rules: groupRules(rule({ protocol: 'TCP', startPort: 0, endPort: 80 })) })).rejects.toThrow(/not a range/);
    expect(iptablesRules()).toBe(before);
  });

  it('cleanupunusedrules removes chains of taps that are gone; refresh with no NICs leaves no chain or rule of ours', async () => {
    await call(SecurityGroupAgentPaths.applyRules, { nics: [{ vmNicUuid: 'gone', internalName: 'sgvgone71', mac: '52:54:00:fd:71:77', ips: [`${NET}.77`], securityGroupUuids: [SG] }], rules: groupRules() });
    expect(iptablesRules()).toContain('sgi-sgvgone71');
    expect(await call(SecurityGroupAgentPaths.cleanupUnusedRules, {})).toMatchObject({ removed: ['sgvgone71'] });
    expect(iptablesRules()).not.toContain('sgvgone71');
    expect(iptablesRules()).toContain(`sgi-${web.tap}`);
    // a NIC deleted by actionCode: only its chains go
    await call(SecurityGroupAgentPaths.applyRules, { nics: [peer.nic([], { actionCode: 'deleteChain' })], rules: {} });
    expect(iptablesRules()).not.toContain(peer.tap);
    expect(host.inNs(['ebtables-save'])).not.toContain(peer.tap);
    expect(iptablesRules()).toContain(`sgi-${web.tap}`);
    const r = await call(SecurityGroupAgentPaths.refreshRulesOnHost, { nics: [], rules: {} });
    expect(r).toMatchObject({ removed: [web.tap] });
    expect(iptablesRules().split('\n').filter((l) => /strato-sg|sg[ioe]-/.test(l))).toEqual([]);
    expect(host.inNs(['ebtables-save'])).not.toContain('sga-');
    expect(outsider.connects(web.ip, 80)).toBe(true); // open again
  }, 60_000);
});
