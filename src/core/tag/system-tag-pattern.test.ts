import { describe, expect, it } from 'vitest';
import { SystemTagRegistry } from './tag-registry.ts';

describe('system tag patterns', () => {
  const reg = new SystemTagRegistry();
  const hostname = reg.define({ pattern: 'hostname::{hostname}', resourceType: 'VmInstanceVO', validate: ({ hostname }) => { if (!/^[a-z0-9-]+$/.test(hostname)) throw new Error(`bad hostname ${hostname}`); } });
  const staticIp = reg.define({ pattern: 'staticIp::{l3NetworkUuid}::{staticIp}', resourceType: 'VmInstanceVO' });

  it('parses tokens and rebuilds the same tag', () => {
    expect(hostname.parse('hostname::web1')).toEqual({ hostname: 'web1' });
    expect(staticIp.parse('staticIp::abc::10.0.0.5')).toEqual({ l3NetworkUuid: 'abc', staticIp: '10.0.0.5' });
    expect(staticIp.instantiate({ l3NetworkUuid: 'abc', staticIp: '10.0.0.5' })).toBe('staticIp::abc::10.0.0.5');
    // an IPv6 address contains `::`: the last token takes the rest
    expect(staticIp.parse('staticIp::abc::fe80::1')).toEqual({ l3NetworkUuid: 'abc', staticIp: 'fe80::1' });
  });

  it('does not match other shapes', () => {
    expect(hostname.parse('hostnames::web1')).toBeUndefined();
    expect(hostname.parse('hostname::')).toBeUndefined();
    expect(staticIp.parse('staticIp::abc')).toBeUndefined();
  });

  it('validates against the patterns of the resource type and runs the validator', () => {
    expect(reg.validate('VmInstanceVO', 'hostname::web-1').tokens).toEqual({ hostname: 'web-1' });
    expect(() => reg.validate('VmInstanceVO', 'hostname::Web_1')).toThrow(/bad hostname/);
    expect(() => reg.validate('VmInstanceVO', 'colour::red')).toThrow(/no system tag matches \[colour::red\] for VmInstanceVO; valid patterns: hostname::\{hostname\}/);
    expect(() => reg.validate('ZoneVO', 'hostname::a')).toThrow(/accepts no system tags/);
  });

  it('builds an escaped SQL LIKE pattern', () => {
    expect(staticIp.toSqlLike()).toBe('staticIp::%::%');
    expect(reg.define({ pattern: 'a_b::{x}', resourceType: 'T' }).toSqlLike()).toBe('a\\_b::%');
  });
});
