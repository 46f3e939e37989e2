import { describe, expect, it } from 'vitest';
import type { SecurityGroupRuleTO } from '../../contracts/security-group.ts';
import { arpScript, parseEbtablesSave } from './security-group-arp.ts';
import { parseIptablesSave, planRules, restoreScript } from './security-group-rules.ts';

const SG = 'a'.repeat(32);
const rule = (r: Partial<SecurityGroupRuleTO>): SecurityGroupRuleTO => ({ type: 'Ingress', protocol: 'ALL', ipVersion: 4, startPort: -1, endPort: -1, allowedCidr: '0.0.0.0/0', action: 'ACCEPT', priority: 1, ...r });
const nic = (tap: string, extra: Record<string, unknown> = {}) => ({ vmNicUuid: tap, internalName: tap, mac: '52:54:00:00:00:01', ips: ['10.0.0.5'], securityGroupUuids: [SG], ...extra });
const empty = parseIptablesSave('-P FORWARD ACCEPT\n');

describe('security group rules for iptables', () => {
  it('refuses bad input with a clear message', () => {
    expect(() => planRules({})).toThrow(/nics must be a list/);
    expect(() => planRules({ nics: [nic('tap with space')], rules: { [SG]: [] } })).toThrow(/internalName/);
    expect(() => planRules({ nics: [nic('t1', { mac: 'xx' })], rules: { [SG]: [] } })).toThrow(/not a MAC/);
    expect(() => planRules({ nics: [nic('t1')], rules: {} })).toThrow(/rules of security group .* were not given/);
    expect(() => planRules({ nics: [nic('t1')], rules: { [SG]: [rule({ protocol: 'TCP', startPort: 90, endPort: 80 })] } })).toThrow(/not a range/);
    expect(() => planRules({ nics: [nic('t1')], rules: { [SG]: [rule({ allowedCidr: '10.0.0.0/40' })] } })).toThrow(/not an IPv4 CIDR/);
    expect(() => planRules({ nics: [nic('t1'), nic('t1')], rules: { [SG]: [] } })).toThrow(/listed twice/);
    // an IPv6 zone passes node's isIPv6 but iptables refuses it: the whole restore would fail
    expect(() => planRules({ nics: [nic('t1')], rules: { [SG]: [rule({ ipVersion: 6, allowedCidr: 'fe80::1%eth0/64' })] } })).toThrow(/not an IPv6 CIDR/);
    expect(() => planRules({ nics: [nic('t1', { ips: ['fe80::5%t1'] })], rules: { [SG]: [] } })).toThrow(/not an IP address/);
    expect(planRules({ nics: [nic('t1')], rules: { [SG]: [rule({ ipVersion: 6, remoteGroupIps: ['fd00::6', 'fe80::6%t1'] })] } }).apply[0].ingress[0].remoteGroupIps).toEqual(['fd00::6']);
  });

  it('layer 2: frames from another MAC, VLAN-tagged frames (iptables would not see inside) and ARP for another IP are dropped', () => {
    const plan = planRules({ nics: [nic('t1')], rules: { [SG]: [] } });
    const lines = arpScript(parseEbtablesSave(''), plan.apply, []).split('\n');
    expect(lines.filter((l) => l.startsWith('-A sga-t1'))).toEqual([
      '-A sga-t1 -s ! 52:54:00:00:00:01 -j DROP',
      '-A sga-t1 -p 802_1Q -j DROP',
      '-A sga-t1 -p ARP --arp-ip-src 10.0.0.5 --arp-mac-src 52:54:00:00:00:01 -j RETURN',
      '-A sga-t1 -p ARP --arp-ip-src 0.0.0.0 --arp-mac-src 52:54:00:00:00:01 -j RETURN',
      '-A sga-t1 -p ARP -j DROP',
    ]);
    expect(lines).toContain('-I FORWARD 1 -i t1 -j sga-t1');
  });

  it('drops DHCP server replies a member sends, before conntrack could let them out', () => {
    const plan = planRules({ nics: [nic('t1', { ips: ['10.0.0.5', 'fd00::5'] })], rules: { [SG]: [] } });
    for (const [f, drop] of [[4, '-A sge-t1 -p udp -m udp --sport 67 --dport 68 -j DROP'], [6, '-A sge-t1 -p udp -m udp --sport 547 --dport 546 -j DROP']] as const) {
      const sge = restoreScript(empty, plan.apply, [], f).split('\n').filter((l) => l.startsWith('-A sge-t1'));
      expect(sge[0]).toBe(drop);
    }
  });

  it('builds per-NIC chains: anti-spoofing, conntrack, the rules by priority, default deny in and allow out', () => {
    const plan = planRules({
      nics: [nic('t1')],
      rules: { [SG]: [
        rule({ protocol: 'TCP', startPort: 8080, endPort: 8080, priority: 2 }),
        rule({ remoteGroupIps: ['10.0.0.6', '10.0.0.7'], priority: 1 }),
        rule({ type: 'Egress', protocol: 'UDP', startPort: 53, endPort: 60, allowedCidr: '10.9.0.0/16', action: 'DROP' }),
        rule({ ipVersion: 6, allowedCidr: '::/0' }),
      ] },
    });
    const text = restoreScript(empty, plan.apply, []);
    const lines = text.split('\n');
    expect(lines).toContain('-I FORWARD 1 -m physdev --physdev-is-bridged -j strato-sg');
    expect(lines).toContain('-A sgo-t1 -m mac ! --mac-source 52:54:00:00:00:01 -j DROP');
    expect(lines).toContain('-A sgo-t1 -s 10.0.0.5/32 -g sge-t1');
    expect(lines).toContain('-A sge-t1 -d 10.9.0.0/16 -p udp -m udp --dport 53:60 -j DROP');
    const ingress = lines.filter((l) => l.startsWith('-A sgi-t1'));
    expect(ingress.slice(3)).toEqual([
      '-A sgi-t1 -s 10.0.0.6 -j ACCEPT',
      '-A sgi-t1 -s 10.0.0.7 -j ACCEPT',
      '-A sgi-t1 -p tcp -m tcp --dport 8080 -j ACCEPT',
      '-A sgi-t1 -j DROP',
    ]);
    expect(lines.at(-3)).toBe('-A sgi-t1 -j DROP');
    // egress jumps come before ingress jumps in the dispatch chain
    const dispatch = lines.filter((l) => l.startsWith('-A strato-sg'));
    expect(dispatch).toEqual(['-A strato-sg -m physdev --physdev-in t1 --physdev-is-bridged -j sgo-t1', '-A strato-sg -m physdev --physdev-out t1 --physdev-is-bridged -j sgi-t1']);
  });

  it('builds the IPv6 chains from the IPv6 rules and addresses, with neighbour discovery and link-local sources', () => {
    const plan = planRules({
      nics: [nic('t1', { ips: ['10.0.0.5', 'fd00::5'] })],
      rules: { [SG]: [rule({ protocol: 'TCP', startPort: 8080, endPort: 8080 }), rule({ ipVersion: 6, protocol: 'ICMP', allowedCidr: 'fd00::/64' })] },
    });
    const v6 = restoreScript(empty, plan.apply, [], 6).split('\n');
    expect(v6).toContain('-A sgo-t1 -s fd00::5/128 -g sge-t1');
    expect(v6).toContain('-A sgo-t1 -s fe80::/10 -g sge-t1');
    expect(v6).not.toContain('-A sgo-t1 -s 10.0.0.5/32 -g sge-t1');
    expect(v6).toContain('-A sge-t1 -p ipv6-icmp -m icmp6 --icmpv6-type 134 -j DROP');
    expect(v6.filter((l) => l.startsWith('-A sgi-t1')).slice(-2)).toEqual(['-A sgi-t1 -s fd00::/64 -p ipv6-icmp -j ACCEPT', '-A sgi-t1 -j DROP']);
    expect(v6.join('\n')).not.toContain('8080');
    expect(() => planRules({ nics: [nic('t1')], rules: { [SG]: [rule({ ipVersion: 6, allowedCidr: '10.0.0.0/8' })] } })).toThrow(/not an IPv6 CIDR/);
    expect(() => planRules({ nics: [nic('t1', { ips: ['nope'] })], rules: { [SG]: [] } })).toThrow(/not an IP address/);
  });

  it('keeps other NICs, removes deleted ones and drops the dispatch chain when the last NIC goes', () => {
    const state = parseIptablesSave(['-N strato-sg', '-N sgi-t1', '-N sgo-t1', '-N sge-t1', '-N sgi-t2', '-N sgo-t2', '-N sge-t2', '-A FORWARD -m physdev --physdev-is-bridged -j strato-sg'].join('\n'));
    expect(state).toMatchObject({ dispatchExists: true, jumpFirst: true, jumpPresent: true });
    const some = restoreScript(state, [], ['t2']).split('\n');
    expect(some).toContain('-A strato-sg -m physdev --physdev-in t1 --physdev-is-bridged -j sgo-t1');
    expect(some).toContain('-X sge-t2');
    expect(some).not.toContain(':sgi-t1 - [0:0]'); // t1's chains are not touched
    const none = restoreScript(state, [], ['t1', 't2']).split('\n');
    expect(none).toContain('-D FORWARD -m physdev --physdev-is-bridged -j strato-sg');
    expect(none).toContain('-X strato-sg');
    expect(restoreScript(empty, [], ['t9'])).toBe('*filter\nCOMMIT\n');
  });
});
