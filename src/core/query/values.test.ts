import { describe, expect, it } from 'vitest';
import { parseDate, toColumnValue } from './values.ts';

describe('literal conversion by field type', () => {
  it('reads dates as ISO 8601, SQL datetime (UTC), plain date (UTC) or epoch ms', () => {
    const ms = Date.UTC(2024, 9, 17, 10, 0, 0);
    expect(parseDate('d', '2024-10-17T10:00:00Z')).toBe(ms);
    expect(parseDate('d', '2024-10-17T12:00:00+02:00')).toBe(ms);
    expect(parseDate('d', '2024-10-17T10:00:00.000Z')).toBe(ms);
    expect(parseDate('d', '2024-10-17 10:00:00')).toBe(ms);
    expect(parseDate('d', '2024-10-17T10:00:00')).toBe(ms);
    expect(parseDate('d', '2024-10-17')).toBe(Date.UTC(2024, 9, 17));
    expect(parseDate('d', String(ms))).toBe(ms);
    expect(parseDate('d', ms)).toBe(ms);
  });

  it('rejects dates it cannot read, naming the field', () => {
    expect(() => parseDate('createDate', 'yesterday')).toThrow(/invalid value 'yesterday' for date field 'createDate'/);
    expect(() => parseDate('createDate', '2024-13-45 99:00:00')).toThrow(/date field/);
  });

  it('converts numbers strictly and rejects non-numeric text', () => {
    expect(toColumnValue('cpuNum', 'number', '4')).toBe(4);
    expect(toColumnValue('cpuNum', 'number', '-1.5e3')).toBe(-1500);
    expect(() => toColumnValue('cpuNum', 'number', '4abc')).toThrow(/invalid value '4abc' for number field 'cpuNum'/);
    expect(() => toColumnValue('cpuNum', 'number', '')).toThrow(/number field/);
  });

  it('accepts true/false (any case) for booleans only', () => {
    expect(toColumnValue('isDefault', 'boolean', 'TRUE')).toBe(true);
    expect(toColumnValue('isDefault', 'boolean', false)).toBe(false);
    expect(() => toColumnValue('isDefault', 'boolean', 'yes')).toThrow(/boolean/);
  });

  it('turns ZQL numbers into text for string fields without reformatting them', () => {
    expect(toColumnValue('name', 'string', '007')).toBe('007');
  });
});
