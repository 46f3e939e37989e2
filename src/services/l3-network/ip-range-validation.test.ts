import { describe, expect, it } from 'vitest';
import { rangeFromAddresses, rangesFromCidr } from './ip-range-validation.ts';

describe('IP range validation', () => {
  it('accepts a range inside the netmask with the gateway outside it, defaulting the gateway to the first host', () => {
    const r = rangeFromAddresses({ startIp: '10.0.0.10', endIp: '10.0.0.20', netmask: '255.255.255.0' });
    expect(r).toMatchObject({ gateway: '10.0.0.1', networkCidr: '10.0.0.0/24', prefixLen: 24, endIpInLong: r.startIpInLong + 10 });
  });

  it('refuses a gateway inside the range, outside the subnet, and a range spanning subnets or reversed', () => {
    expect(() => rangeFromAddresses({ startIp: '10.0.0.10', endIp: '10.0.0.20', netmask: '255.255.255.0', gateway: '10.0.0.15' })).toThrow(/can not be part of the range/);
    expect(() => rangeFromAddresses({ startIp: '10.0.0.10', endIp: '10.0.0.20', netmask: '255.255.255.0', gateway: '10.0.1.1' })).toThrow(/not in the subnet/);
    expect(() => rangeFromAddresses({ startIp: '10.0.0.10', endIp: '10.0.1.20', netmask: '255.255.255.0', gateway: '10.0.0.1' })).toThrow(/not in one subnet/);
    expect(() => rangeFromAddresses({ startIp: '10.0.0.20', endIp: '10.0.0.10', netmask: '255.255.255.0' })).toThrow(/greater than/);
    expect(() => rangeFromAddresses({ startIp: '10.0.0.0', endIp: '10.0.0.10', netmask: '255.255.255.0', gateway: '10.0.0.254' })).toThrow(/network or broadcast/);
  });

  it('turns a CIDR into the hosts minus the gateway, splitting around a gateway in the middle', () => {
    expect(rangesFromCidr('192.168.0.0/24').map((r) => [r.startIp, r.endIp, r.gateway])).toEqual([['192.168.0.2', '192.168.0.254', '192.168.0.1']]);
    expect(rangesFromCidr('192.168.0.0/24', '192.168.0.254').map((r) => [r.startIp, r.endIp])).toEqual([['192.168.0.1', '192.168.0.253']]);
    expect(rangesFromCidr('192.168.0.0/24', '192.168.0.100').map((r) => [r.startIp, r.endIp])).toEqual([['192.168.0.1', '192.168.0.99'], ['192.168.0.101', '192.168.0.254']]);
    expect(() => rangesFromCidr('192.168.0.0/24', '192.168.1.1')).toThrow(/not a host address/);
  });
});
