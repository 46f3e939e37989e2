import { describe, expect, it } from 'vitest';
import { cidrString, ipToLong, isIpv4, longToIp, netmaskToPrefix, parseCidr } from './ipv4.ts';

describe('ipv4', () => {
  it('converts addresses to unsigned longs and back', () => {
    expect(ipToLong('192.168.1.10')).toBe(3232235786);
    expect(ipToLong('255.255.255.255')).toBe(4294967295);
    expect(longToIp(3232235786)).toBe('192.168.1.10');
    expect(longToIp(0)).toBe('0.0.0.0');
  });

  it('refuses malformed addresses', () => {
    for (const bad of ['1.2.3', '256.1.1.1', '01.2.3.4', 'a.b.c.d', '1.2.3.4.5', '::1']) expect(isIpv4(bad), bad).toBe(false);
    expect(() => ipToLong('1.2.3')).toThrow(/not an IPv4/);
  });

  it('knows the prefix of contiguous netmasks and refuses the others', () => {
    expect(netmaskToPrefix('255.255.255.0')).toBe(24);
    expect(netmaskToPrefix('255.255.240.0')).toBe(20);
    expect(netmaskToPrefix('0.0.0.0')).toBe(0);
    expect(() => netmaskToPrefix('255.0.255.0')).toThrow(/not a valid netmask/);
  });

  it('parses a CIDR into network, netmask and host bounds', () => {
    const c = parseCidr('10.1.2.77/24');
    expect(cidrString(c.network, c.prefix)).toBe('10.1.2.0/24');
    expect(c.netmask).toBe('255.255.255.0');
    expect([longToIp(c.firstHost), longToIp(c.lastHost)]).toEqual(['10.1.2.1', '10.1.2.254']);
    expect(() => parseCidr('10.0.0.0/33')).toThrow();
    expect(() => parseCidr('fd00::/64')).toThrow(/IPv6/);
  });
});
