import { isIPv4, isIPv6 } from 'node:net';
import type { ApplySecurityGroupRulesCmd, SecurityGroupNicTO, SecurityGroupRuleTO } from '../../contracts/security-group.ts';

/**
 * Security-group rules as iptables sees them (pure: no host access, so it is unit-tested beside).
 *
 * Layout, in the filter table (ZStack's kvmagent idea, Strato's names):
 * - `FORWARD` starts with `-m physdev --physdev-is-bridged -j strato-sg`: every bridged packet.
 * - `strato-sg` dispatches by bridge port: first every member NIC's *egress* jump
 *   (`--physdev-in <tap>` → `sgo-<tap>`), then every *ingress* jump (`--physdev-out <tap>` → `sgi-<tap>`).
 *   Egress chains never ACCEPT (allowed traffic RETURNs), so a packet between two members on one host
 *   is checked by the sender's egress chain and then by the receiver's ingress chain.
 * - `sgo-<tap>`: anti-spoofing (only the NIC's MAC, only its IPs; DHCP discovery from 0.0.0.0 allowed),
 *   then `-g sge-<tap>`, the egress rules; no match → the egress policy (default ALLOW = RETURN).
 * - `sgi-<tap>`: conntrack ESTABLISHED,RELATED accepted, DHCP replies accepted, the ingress rules; no
 *   match → the ingress policy (default DENY).
 * Non-member ports match nothing in `strato-sg` and go on through FORWARD untouched. The same layout
 * is built for IPv4 (iptables) and IPv6 (ip6tables), each with its family's rules and addresses; IPv6
 * also lets link-local sources out (fe80::/10, the NIC's own), neighbour discovery in and out (but no
 * router advertisement from a VM) and DHCPv6.
 */
export type Family = 4 | 6;
export const DISPATCH_CHAIN = 'strato-sg';
export const FORWARD_JUMP = `-m physdev --physdev-is-bridged -j ${DISPATCH_CHAIN}`;
const NIC_CHAIN = /^sg[ioe]-(.+)$/;

export const nicChains = (tap: string) => ({ ingress: `sgi-${tap}`, egress: `sgo-${tap}`, egressRules: `sge-${tap}` });

/** The tap a chain of ours belongs to, or undefined for any other chain. */
export function tapOfChain(chain: string): string | undefined {
  return NIC_CHAIN.exec(chain)?.[1];
}

/** One NIC's rules, validated and flattened (its groups' rules in order: first group first, then by priority). */
export interface NicRuleSet {
  tap: string;
  mac: string;
  ips: string[];
  ingress: SecurityGroupRuleTO[];
  egress: SecurityGroupRuleTO[];
  ingressPolicy: 'DENY' | 'ALLOW';
  egressPolicy: 'DENY' | 'ALLOW';
}

export interface RulePlan {
  apply: NicRuleSet[];
  /** Taps whose chains go (`deleteChain`). */
  remove: string[];
}

const TAP = /^[\w.-]{1,15}$/;
/** Node's isIPv6 takes a zone (`fe80::1%eth0`), which iptables refuses: one such address would fail the whole restore. */
const isIp = (ip: string, f: Family) => (f === 4 ? isIPv4(ip) : isIPv6(ip) && !ip.includes('%'));
const isAnyIp = (ip: string) => isIp(ip, 4) || isIp(ip, 6);
const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/;
const PROTOCOLS = new Set(['TCP', 'UDP', 'ICMP', 'ALL']);

function cidrOk(cidr: string, f: Family): boolean {
  const m = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(cidr);
  return !!m && isIp(m[1], f) && (m[2] === undefined || Number(m[2]) <= (f === 4 ? 32 : 128));
}

/** Checks a whole command before anything is touched: a bad NIC or rule fails it with a clear message. */
export function planRules(cmd: Partial<ApplySecurityGroupRulesCmd>): RulePlan {
  if (!Array.isArray(cmd.nics)) throw new Error('nics must be a list of NICs');
  const rules = cmd.rules ?? {};
  if (typeof rules !== 'object' || Array.isArray(rules)) throw new Error('rules must map security group uuids to lists of rules');
  const plan: RulePlan = { apply: [], remove: [] };
  const seen = new Set<string>();
  for (const [i, nic] of (cmd.nics as Array<Partial<SecurityGroupNicTO>>).entries()) {
    const at = `nics[${i}]`;
    if (typeof nic?.internalName !== 'string' || !TAP.test(nic.internalName)) throw new Error(`${at}: internalName must be a tap name (letters, digits, . _ -; at most 15)`);
    const tap = nic.internalName;
    if (seen.has(tap)) throw new Error(`${at}: tap ${tap} is listed twice`);
    seen.add(tap);
    if (nic.actionCode === 'deleteChain') {
      plan.remove.push(tap);
      continue;
    }
    if (nic.actionCode !== undefined && nic.actionCode !== 'applyChain') throw new Error(`${at}: actionCode must be applyChain or deleteChain`);
    const mac = String(nic.mac ?? '').toLowerCase();
    if (!MAC.test(mac)) throw new Error(`${at}: mac ${String(nic.mac)} is not a MAC address`);
    if (!Array.isArray(nic.ips) || nic.ips.some((ip) => typeof ip !== 'string')) throw new Error(`${at}: ips must be a list of addresses`);
    if (!Array.isArray(nic.securityGroupUuids)) throw new Error(`${at}: securityGroupUuids must be a list`);
    const ingress: SecurityGroupRuleTO[] = [];
    const egress: SecurityGroupRuleTO[] = [];
    for (const sg of nic.securityGroupUuids) {
      const list = (rules as Record<string, unknown>)[sg];
      if (!Array.isArray(list)) throw new Error(`${at}: the rules of security group ${sg} were not given`);
      const ordered = list.map((r, j) => checkRule(r, `rules[${sg}][${j}]`)).sort((a, b) => a.priority - b.priority);
      for (const r of ordered) (r.type === 'Ingress' ? ingress : egress).push(r);
    }
    for (const [k, v] of [['ingressPolicy', nic.ingressPolicy], ['egressPolicy', nic.egressPolicy]] as const) {
      if (v !== undefined && v !== 'DENY' && v !== 'ALLOW') throw new Error(`${at}: ${k} must be DENY or ALLOW`);
    }
    const bad = nic.ips.find((ip) => !isAnyIp(ip));
    if (bad !== undefined) throw new Error(`${at}: ${bad} is not an IP address`);
    plan.apply.push({ tap, mac, ips: nic.ips, ingress, egress, ingressPolicy: nic.ingressPolicy ?? 'DENY', egressPolicy: nic.egressPolicy ?? 'ALLOW' });
  }
  return plan;
}

function checkRule(r: Partial<SecurityGroupRuleTO>, at: string): SecurityGroupRuleTO {
  if (r?.type !== 'Ingress' && r?.type !== 'Egress') throw new Error(`${at}: type must be Ingress or Egress`);
  if (!PROTOCOLS.has(String(r.protocol))) throw new Error(`${at}: protocol must be TCP, UDP, ICMP or ALL`);
  if (r.action !== 'ACCEPT' && r.action !== 'DROP') throw new Error(`${at}: action must be ACCEPT or DROP`);
  const ipVersion = Number(r.ipVersion ?? 4);
  if (ipVersion !== 4 && ipVersion !== 6) throw new Error(`${at}: ipVersion must be 4 or 6`);
  const rule = { ...r, ipVersion, priority: Number(r.priority ?? 0) } as SecurityGroupRuleTO;
  if (r.protocol === 'TCP' || r.protocol === 'UDP') {
    const { startPort: s, endPort: e } = r;
    if (!Number.isInteger(s) || !Number.isInteger(e) || (s as number) < 1 || (e as number) > 65535 || (s as number) > (e as number)) throw new Error(`${at}: ports ${String(s)}-${String(e)} are not a range within 1-65535`);
  }
  if (r.remoteGroupIps !== undefined && r.remoteGroupIps !== null) {
    if (!Array.isArray(r.remoteGroupIps)) throw new Error(`${at}: remoteGroupIps must be a list of addresses`);
    rule.remoteGroupIps = r.remoteGroupIps.filter((ip) => isIp(String(ip), ipVersion));
  } else if (!cidrOk(String(r.allowedCidr), ipVersion)) throw new Error(`${at}: allowedCidr ${String(r.allowedCidr)} is not an IPv${ipVersion} CIDR`);
  return rule;
}

function match(r: SecurityGroupRuleTO): string {
  const proto = r.protocol.toLowerCase();
  if (r.protocol === 'TCP' || r.protocol === 'UDP') return `-p ${proto} -m ${proto} --dport ${r.startPort === r.endPort ? r.startPort : `${r.startPort}:${r.endPort}`}`;
  if (r.protocol === 'ICMP') return r.ipVersion === 6 ? '-p ipv6-icmp' : '-p icmp';
  return '';
}

/** The peers a rule names: its remote group's IPs, else its CIDR ('' = anyone). */
function peers(r: SecurityGroupRuleTO): string[] {
  if (r.remoteGroupIps) return r.remoteGroupIps;
  return r.allowedCidr === '0.0.0.0/0' || r.allowedCidr === '::/0' ? [''] : [r.allowedCidr];
}

const icmp6 = (type: number) => `-p ipv6-icmp -m icmp6 --icmpv6-type ${type}`;

const line = (...parts: string[]) => parts.filter(Boolean).join(' ');

/** The rules of one NIC's three chains for one family (without the chain declarations). */
export function nicChainRules(n: NicRuleSet, f: Family = 4): string[] {
  const c = nicChains(n.tap);
  const out: string[] = [];
  const add = (l: string) => {
    if (!out.includes(l)) out.push(l);
  };
  const ips = n.ips.filter((ip) => isIp(ip, f));
  const ofFamily = (rules: SecurityGroupRuleTO[]) => rules.filter((r) => r.ipVersion === f);
  // egress: anti-spoofing first; a NIC without an address can only ask for one (DHCP, or DAD/RS from ::)
  add(`-A ${c.egress} -m mac ! --mac-source ${n.mac} -j DROP`);
  if (f === 4) add(`-A ${c.egress} -s 0.0.0.0/32 -p udp -m udp --sport 68 --dport 67 -j RETURN`);
  else add(`-A ${c.egress} -s ::/128 -p ipv6-icmp -j RETURN`);
  for (const ip of ips) add(`-A ${c.egress} -s ${ip}/${f === 4 ? 32 : 128} -g ${c.egressRules}`);
  if (f === 6) add(`-A ${c.egress} -s fe80::/10 -g ${c.egressRules}`);
  add(`-A ${c.egress} -j DROP`);
  // a VM is no DHCP server (members accept DHCP replies from anyone on the bridge), whatever conntrack says
  add(`-A ${c.egressRules} -p udp -m udp --sport ${f === 4 ? '67 --dport 68' : '547 --dport 546'} -j DROP`);
  add(`-A ${c.egressRules} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN`);
  if (f === 4) add(`-A ${c.egressRules} -p udp -m udp --sport 68 --dport 67 -j RETURN`);
  else {
    add(`-A ${c.egressRules} ${icmp6(134)} -j DROP`); // and no router
    for (const t of [133, 135, 136, 143]) add(`-A ${c.egressRules} ${icmp6(t)} -j RETURN`);
    add(`-A ${c.egressRules} -p udp -m udp --sport 546 --dport 547 -j RETURN`);
  }
  for (const r of ofFamily(n.egress)) {
    for (const p of peers(r)) add(line(`-A ${c.egressRules}`, p && `-d ${p}`, match(r), `-j ${r.action === 'ACCEPT' ? 'RETURN' : 'DROP'}`));
  }
  add(`-A ${c.egressRules} -j ${n.egressPolicy === 'ALLOW' ? 'RETURN' : 'DROP'}`);
  // ingress: replies of what the VM started, address configuration and neighbour discovery always get through
  add(`-A ${c.ingress} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`);
  if (f === 6) for (const t of [130, 134, 135, 136, 137]) add(`-A ${c.ingress} ${icmp6(t)} -j ACCEPT`); // untracked by conntrack
  add(`-A ${c.ingress} -m conntrack --ctstate INVALID -j DROP`);
  if (f === 4) add(`-A ${c.ingress} -p udp -m udp --sport 67 --dport 68 -j ACCEPT`);
  else add(`-A ${c.ingress} -p udp -m udp --sport 547 --dport 546 -j ACCEPT`);
  for (const r of ofFamily(n.ingress)) {
    for (const p of peers(r)) add(line(`-A ${c.ingress}`, p && `-s ${p}`, match(r), `-j ${r.action}`));
  }
  add(`-A ${c.ingress} -j ${n.ingressPolicy === 'ALLOW' ? 'ACCEPT' : 'DROP'}`);
  return out;
}

/** What the host has now (read from `iptables -S`). */
export interface FirewallState {
  /** Taps that have chains of ours, and those chains. */
  taps: Set<string>;
  chains: Set<string>;
  dispatchExists: boolean;
  /** Whether FORWARD's first rule is the jump to the dispatch chain, and whether it has one anywhere. */
  jumpFirst: boolean;
  jumpPresent: boolean;
}

export function parseIptablesSave(text: string): FirewallState {
  const lines = text.split('\n').map((l) => l.trim());
  const taps = new Set<string>();
  const chains = new Set<string>();
  for (const l of lines) {
    const m = /^-N (\S+)$/.exec(l);
    const tap = m ? tapOfChain(m[1]) : undefined;
    if (tap) {
      taps.add(tap);
      chains.add(m![1]);
    }
  }
  const forward = lines.filter((l) => l.startsWith('-A FORWARD '));
  const isJump = (l: string) => l === `-A FORWARD ${FORWARD_JUMP}`;
  return { taps, chains, dispatchExists: lines.includes(`-N ${DISPATCH_CHAIN}`), jumpFirst: forward.length > 0 && isJump(forward[0]), jumpPresent: forward.some(isJump) };
}

/**
 * One `iptables-restore --noflush` transaction taking the host from `state` to: the NICs of `build`
 * rebuilt, the chains of `remove` gone, every other NIC of ours kept as it is. Declaring a chain in
 * the input flushes it, so rebuilt chains never keep stale rules; the kernel applies all or nothing.
 */
export function restoreScript(state: FirewallState, build: readonly NicRuleSet[], remove: readonly string[], f: Family = 4): string {
  const rebuilt = new Set(build.map((n) => n.tap));
  const gone = new Set(remove.filter((t) => state.taps.has(t) && !rebuilt.has(t)));
  const taps = [...new Set([...state.taps, ...rebuilt])].filter((t) => !gone.has(t)).sort();
  const out = ['*filter'];
  const keepDispatch = taps.length > 0;
  if (keepDispatch || state.dispatchExists) out.push(`:${DISPATCH_CHAIN} - [0:0]`);
  for (const n of build) for (const ch of Object.values(nicChains(n.tap))) out.push(`:${ch} - [0:0]`);
  if (keepDispatch) {
    for (const t of taps) out.push(`-A ${DISPATCH_CHAIN} -m physdev --physdev-in ${t} --physdev-is-bridged -j ${nicChains(t).egress}`);
    for (const t of taps) out.push(`-A ${DISPATCH_CHAIN} -m physdev --physdev-out ${t} --physdev-is-bridged -j ${nicChains(t).ingress}`);
    if (!state.jumpFirst) {
      if (state.jumpPresent) out.push(`-D FORWARD ${FORWARD_JUMP}`);
      out.push(`-I FORWARD 1 ${FORWARD_JUMP}`);
    }
  } else if (state.jumpPresent) out.push(`-D FORWARD ${FORWARD_JUMP}`);
  for (const n of build) out.push(...nicChainRules(n, f));
  const goneChains = [...gone].flatMap((t) => Object.values(nicChains(t))).filter((ch) => state.chains.has(ch));
  for (const ch of goneChains) out.push(`-F ${ch}`);
  for (const ch of goneChains) out.push(`-X ${ch}`);
  if (!keepDispatch && state.dispatchExists) out.push(`-X ${DISPATCH_CHAIN}`);
  out.push('COMMIT', '');
  return out.join('\n');
}
