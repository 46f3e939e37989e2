import { describe, expect, it } from 'vitest';
import { checkDuplicates, cidrVersion, normalizeRule } from './rule-validation.ts';

const err = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return (e as { errorCode: { code: string; details: string } }).errorCode;
  }
  throw new Error('did not throw');
};

describe('security group rule validation', () => {
  it('parses IPv4 and IPv6 CIDRs and refuses malformed ones', () => {
    expect(cidrVersion('10.0.0.0/8')).toBe(4);
    expect(cidrVersion('0.0.0.0/0')).toBe(4);
    expect(cidrVersion('fd00::/64')).toBe(6);
    for (const bad of ['10.0.0.0', '10.0.0.0/33', '300.0.0.0/8', 'fd00::/129', 'x/1', '10.0.0.0/-1', 'fe80::1%eth0/64']) expect(cidrVersion(bad), bad).toBeUndefined();
  });

  it('defaults ICMP and ALL ports to -1 and the CIDR to the world of the rule version', () => {
    expect(normalizeRule({ type: 'Ingress', protocol: 'ICMP' }, 0, 4)).toMatchObject({ startPort: -1, endPort: -1, allowedCidr: '0.0.0.0/0', ipVersion: 4, state: 'Enabled', action: 'ACCEPT' });
    expect(normalizeRule({ type: 'Egress', ipVersion: 6 }, 0, 4)).toMatchObject({ protocol: 'ALL', allowedCidr: '::/0', ipVersion: 6 });
  });

  it('requires TCP/UDP ports in 1..65535 with start <= end', () => {
    expect(normalizeRule({ type: 'Ingress', protocol: 'TCP', startPort: 22, endPort: 22 }, 0, 4)).toMatchObject({ startPort: 22, endPort: 22 });
    expect(err(() => normalizeRule({ type: 'Ingress', protocol: 'TCP', startPort: 0, endPort: 22 }, 0, 4)).details).toContain('startPort 0 is out of range');
    expect(err(() => normalizeRule({ type: 'Ingress', protocol: 'UDP', startPort: 1, endPort: 65536 }, 1, 4)).details).toContain('rules[1]: endPort 65536');
    expect(err(() => normalizeRule({ type: 'Ingress', protocol: 'TCP', startPort: 100, endPort: 99 }, 0, 4)).details).toContain('greater than endPort');
    expect(err(() => normalizeRule({ type: 'Ingress', protocol: 'TCP' }, 0, 4)).details).toContain('needs startPort and endPort');
  });

  it('refuses ports other than -1 on ICMP and ALL, and a CIDR of the wrong version', () => {
    expect(err(() => normalizeRule({ type: 'Ingress', protocol: 'ICMP', startPort: 8, endPort: 8 }, 0, 4)).code).toBe('SYS.1007');
    expect(err(() => normalizeRule({ type: 'Ingress', protocol: 'ALL', allowedCidr: 'fd00::/8' }, 0, 4)).details).toContain('not an IPv4 CIDR');
    expect(err(() => normalizeRule({ type: 'Ingress', allowedCidr: '10.0.0.1' }, 0, 4)).details).toContain('not a CIDR');
  });

  it('finds duplicates within a request and against existing rules, ignoring description', () => {
    const a = normalizeRule({ type: 'Ingress', protocol: 'TCP', startPort: 80, endPort: 80, description: 'web' }, 0, 4);
    const b = normalizeRule({ type: 'Ingress', protocol: 'TCP', startPort: 80, endPort: 80 }, 1, 4);
    const c = normalizeRule({ type: 'Egress', protocol: 'TCP', startPort: 80, endPort: 80 }, 2, 4);
    expect(() => checkDuplicates([a, c], [])).not.toThrow();
    expect(err(() => checkDuplicates([a, b], [])).details).toContain('rules[1] duplicates');
    expect(() => checkDuplicates([c], [b])).not.toThrow();
    expect(err(() => checkDuplicates([b], [a])).details).toContain('rules[0] duplicates');
  });
});
