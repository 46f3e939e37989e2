import { StratoError, SysErrors } from '../errors/error-code.ts';
import type { FieldType } from './inventory.ts';
import type { Literal } from './ast.ts';

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const EPOCH_MS = /^-?\d+$/;
/** `2024-10-17 10:00:00`, optionally with fractions; ZStack's SDK writes this form in `q=`. UTC here. */
const SQL_DATETIME = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?)$/;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i;

function invalid(field: string, type: string, value: Literal): StratoError {
  return new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `invalid value '${String(value)}' for ${type} field '${field}'`);
}

/**
 * Converts a user-written literal to what the column stores: numbers for number fields, true/false for
 * booleans (0/1 in the table), epoch milliseconds for dates, text for strings. Bad input is a user error.
 *
 * @example toColumnValue('createDate', 'date', '2024-10-17 10:00:00') // 1729159200000
 */
export function toColumnValue(field: string, type: FieldType, value: Literal): string | number | boolean {
  switch (type) {
    case 'string':
      return String(value);
    case 'number': {
      if (typeof value === 'number') return value;
      const s = String(value).trim();
      if (!NUMBER.test(s)) throw invalid(field, 'number', value);
      return Number(s);
    }
    case 'boolean': {
      if (typeof value === 'boolean') return value;
      const s = String(value).trim().toLowerCase();
      if (s === 'true') return true;
      if (s === 'false') return false;
      throw invalid(field, 'boolean (true or false)', value);
    }
    case 'date':
      return parseDate(field, value);
  }
}

/** ISO 8601 (a missing zone means UTC), `YYYY-MM-DD HH:mm:ss` (UTC), `YYYY-MM-DD`, or epoch milliseconds. */
export function parseDate(field: string, value: Literal): number {
  if (typeof value === 'number' && Number.isFinite(value)) return Math.trunc(value);
  const s = String(value).trim();
  let ms = NaN;
  if (EPOCH_MS.test(s)) ms = Number(s);
  else if (ISO_WITH_ZONE.test(s)) ms = Date.parse(s);
  else if (DATE_ONLY.test(s)) ms = Date.parse(`${s}T00:00:00Z`);
  else {
    const m = SQL_DATETIME.exec(s);
    // Date.parse treats a zone-less ISO string as local time; the API means UTC, so say so.
    if (m) ms = Date.parse(`${m[1]}T${m[2]}Z`);
  }
  if (!Number.isFinite(ms)) {
    throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR,
      `invalid value '${s}' for date field '${field}': use ISO 8601 (2024-10-17T10:00:00Z), 'YYYY-MM-DD HH:mm:ss' (UTC) or epoch milliseconds`);
  }
  return ms;
}
