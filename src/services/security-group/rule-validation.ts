import { isIPv4, isIPv6 } from 'node:net';
import { SecurityGroupConstants, type SecurityGroupRuleProtocol, type SecurityGroupRuleType } from '../../contracts/security-group.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';

/** A rule as the API gives it. */
export interface RuleInput {
  type: SecurityGroupRuleType;
  protocol?: SecurityGroupRuleProtocol;
  startPort?: number;
  endPort?: number;
  allowedCidr?: string;
  remoteSecurityGroupUuid?: string;
  ipVersion?: 4 | 6;
  state?: 'Enabled' | 'Disabled';
  action?: 'ACCEPT' | 'DROP';
  description?: string;
}

/** A rule with every default applied: what is stored and compared. */
export interface NormalizedRule {
  type: SecurityGroupRuleType;
  protocol: SecurityGroupRuleProtocol;
  startPort: number;
  endPort: number;
  allowedCidr: string;
  remoteSecurityGroupUuid: string | null;
  ipVersion: number;
  state: 'Enabled' | 'Disabled';
  action: 'ACCEPT' | 'DROP';
  description: string | null;
}

const invalid = (msg: string) => new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, msg);

/** `a.b.c.d/n` (n ≤ 32) or an IPv6 address with `/n` (n ≤ 128). */
export function cidrVersion(cidr: string): 4 | 6 | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(cidr);
  if (!m) return undefined;
  const prefix = Number(m[2]);
  if (isIPv4(m[1]) && prefix <= 32) return 4;
  if (isIPv6(m[1]) && !m[1].includes('%') && prefix <= 128) return 6; // a zone (fe80::1%eth0) means nothing to a host's firewall
  return undefined;
}

/**
 * Applies ZStack's defaults and checks (SecurityGroupApiInterceptor): TCP/UDP need ports 1..65535 with
 * start ≤ end; ICMP and ALL take -1 for both (the default); the CIDR must parse and be of the rule's IP
 * version (default: the group's; the world-open CIDR of that version when none is given).
 */
export function normalizeRule(r: RuleInput, index: number, groupIpVersion: number): NormalizedRule {
  const at = `rules[${index}]`;
  const protocol = r.protocol ?? 'ALL';
  const ipVersion = r.ipVersion ?? groupIpVersion;
  let startPort: number;
  let endPort: number;
  if (protocol === 'TCP' || protocol === 'UDP') {
    if (r.startPort === undefined || r.endPort === undefined) throw invalid(`${at}: a ${protocol} rule needs startPort and endPort`);
    for (const [k, v] of [['startPort', r.startPort], ['endPort', r.endPort]] as const) {
      if (v < 1 || v > 65535) throw invalid(`${at}: ${k} ${v} is out of range [1, 65535]`);
    }
    if (r.startPort > r.endPort) throw invalid(`${at}: startPort ${r.startPort} is greater than endPort ${r.endPort}`);
    startPort = r.startPort;
    endPort = r.endPort;
  } else {
    for (const [k, v] of [['startPort', r.startPort], ['endPort', r.endPort]] as const) {
      if (v !== undefined && v !== -1) throw invalid(`${at}: a ${protocol} rule takes ${k} -1 (or none), not ${v}`);
    }
    startPort = -1;
    endPort = -1;
  }
  let allowedCidr = r.allowedCidr;
  if (allowedCidr === undefined) allowedCidr = ipVersion === 4 ? SecurityGroupConstants.WORLD_OPEN_CIDR : SecurityGroupConstants.WORLD_OPEN_CIDR_IPV6;
  else {
    const v = cidrVersion(allowedCidr);
    if (!v) throw invalid(`${at}: allowedCidr [${allowedCidr}] is not a CIDR`);
    if (v !== ipVersion) throw invalid(`${at}: allowedCidr [${allowedCidr}] is not an IPv${ipVersion} CIDR`);
  }
  return {
    type: r.type, protocol, startPort, endPort, allowedCidr, ipVersion,
    remoteSecurityGroupUuid: r.remoteSecurityGroupUuid ?? null,
    state: r.state ?? 'Enabled', action: r.action ?? 'ACCEPT', description: r.description ?? null,
  };
}

/** Two rules are the same when they match the same traffic the same way (description and state aside). */
export function ruleKey(r: Pick<NormalizedRule, 'type' | 'protocol' | 'startPort' | 'endPort' | 'allowedCidr' | 'remoteSecurityGroupUuid' | 'ipVersion' | 'action'>): string {
  return [r.type, r.protocol, r.startPort, r.endPort, r.allowedCidr, r.remoteSecurityGroupUuid ?? '', r.ipVersion, r.action].join('|');
}

/** Refuses a rule listed twice in one request or equal to an existing rule of the group. */
export function checkDuplicates(rules: readonly NormalizedRule[], existing: readonly NormalizedRule[]): void {
  const seen = new Set(existing.map(ruleKey));
  for (const [i, r] of rules.entries()) {
    const k = ruleKey(r);
    if (seen.has(k)) throw invalid(`rules[${i}] duplicates a rule of the security group (${r.type} ${r.protocol} ${r.startPort}-${r.endPort} ${r.allowedCidr}${r.remoteSecurityGroupUuid ? ` remote ${r.remoteSecurityGroupUuid}` : ''})`);
    seen.add(k);
  }
}
