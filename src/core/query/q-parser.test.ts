import { describe, expect, it } from 'vitest';
import { parseFields, parseQCondition, parseSort } from './q-parser.ts';
import { StratoError } from '../errors/error-code.ts';

describe('q= condition parsing (ZStack RestServer rules)', () => {
  it.each([
    ['name=zone 1', { field: 'name', op: '=', value: 'zone 1' }],
    ['name!=x/y?z#w', { field: 'name', op: '!=', value: 'x/y?z#w' }],
    ['cpuNum>=4', { field: 'cpuNum', op: '>=', value: '4' }],
    ['cpuNum<=4', { field: 'cpuNum', op: '<=', value: '4' }],
    ['cpuNum>4', { field: 'cpuNum', op: '>', value: '4' }],
    ['cpuNum<4', { field: 'cpuNum', op: '<', value: '4' }],
    ['state?=Enabled,Disabled', { field: 'state', op: 'in', values: ['Enabled', 'Disabled'] }],
    ['state!?=Enabled,Disabled', { field: 'state', op: 'not in', values: ['Enabled', 'Disabled'] }],
    ['description~=%50%', { field: 'description', op: 'like', value: '%50%' }],
    ['description!~=%50%', { field: 'description', op: 'not like', value: '%50%' }],
    ['description is null', { field: 'description', op: 'is null' }],
    ['uuid not null', { field: 'uuid', op: 'is not null' }],
    ['createDate>=2024-10-17 10:00:00', { field: 'createDate', op: '>=', value: '2024-10-17 10:00:00' }],
    ['cluster.zone.name=z1', { field: 'cluster.zone.name', op: '=', value: 'z1' }],
    ['__userTag__=env::prod', { field: '__userTag__', op: '=', value: 'env::prod' }],
  ])('parses %s', (raw, expected) => {
    expect(parseQCondition(raw)).toEqual(expected);
  });

  it('keeps everything after the first = in the value, and does not trim it', () => {
    expect(parseQCondition('name=a b+c&d=e ')).toEqual({ field: 'name', op: '=', value: 'a b+c&d=e ' });
    expect(parseQCondition(' name =x')).toEqual({ field: 'name', op: '=', value: 'x' });
  });

  it('finds operators by ZStack priority, not by position (a != anywhere wins over an earlier =)', () => {
    expect(() => parseQCondition('name=a!=b')).toThrow(/'name=a' is not a field name/);
  });

  it('accepts an empty value as the empty string', () => {
    expect(parseQCondition('description=')).toEqual({ field: 'description', op: '=', value: '' });
  });

  it.each([
    ['name', /contains no query operator/],
    ['=z1', /no field name/],
    ['description is null please', /nothing may follow/],
    ['na me=x', /not a field name/],
  ])('rejects malformed %s with INVALID_ARGUMENT', (raw, msg) => {
    try {
      parseQCondition(raw);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(StratoError);
      expect((e as StratoError).errorCode.code).toBe('SYS.1007');
      expect((e as StratoError).errorCode.details).toMatch(msg);
    }
  });

  it('parses sort with +, - and no sign', () => {
    expect(parseSort('+name')).toEqual({ field: 'name', direction: 'asc' });
    expect(parseSort('-createDate')).toEqual({ field: 'createDate', direction: 'desc' });
    expect(parseSort('name')).toEqual({ field: 'name', direction: 'asc' });
    expect(() => parseSort('-')).toThrow(StratoError);
  });

  it('parses fields lists and refuses an empty one', () => {
    expect(parseFields('uuid, name,createDate')).toEqual(['uuid', 'name', 'createDate']);
    expect(() => parseFields(' , ')).toThrow(/names no field/);
  });
});
