import { StratoError, SysErrors } from '../errors/error-code.ts';
import type { QueryCondition, QueryOp, SortSpec } from './ast.ts';

/**
 * REST `q=` operators in ZStack's lookup order (rest/RestServer.java, QUERY_OP_MAPPING): the first
 * operator *contained anywhere* in the string wins, so an operator that contains another (`!=` ⊃ `=`)
 * must come first. We keep ZStack's exact behaviour, quirks included: `name=a!=b` splits at `!=`.
 */
const Q_OPERATORS: ReadonlyArray<readonly [string, QueryOp]> = [
  ['!=', '!='],
  ['>=', '>='],
  ['<=', '<='],
  ['!?=', 'not in'],
  ['!~=', 'not like'],
  ['~=', 'like'],
  ['?=', 'in'],
  ['=', '='],
  ['>', '>'],
  ['<', '<'],
  ['is null', 'is null'],
  ['not null', 'is not null'],
];

const FIELD_PATH = /^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/;

function invalid(details: string): StratoError {
  return new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, details);
}

/**
 * Parses one REST `q=` condition exactly as ZStack's RestServer does. The value is not trimmed (a
 * space may be meaningful); `in` values are split on commas.
 *
 * @example
 *   parseQCondition('state?=Enabled,Disabled') // { field: 'state', op: 'in', values: ['Enabled', 'Disabled'] }
 *   parseQCondition('description is null')      // { field: 'description', op: 'is null' }
 */
export function parseQCondition(raw: string): QueryCondition {
  const found = Q_OPERATORS.find(([token]) => raw.includes(token));
  if (!found) {
    throw invalid(`invalid query condition '${raw}': it contains no query operator; valid operators are ${Q_OPERATORS.map(([t]) => t).join(', ')}`);
  }
  const [token, op] = found;
  const at = raw.indexOf(token);
  const field = raw.slice(0, at).trim();
  const rest = raw.slice(at + token.length);
  if (!field) throw invalid(`invalid query condition '${raw}': no field name before '${token}'`);
  if (!FIELD_PATH.test(field)) throw invalid(`invalid query condition '${raw}': '${field}' is not a field name`);
  if (op === 'is null' || op === 'is not null') {
    if (rest.trim() !== '') throw invalid(`invalid query condition '${raw}': nothing may follow '${token}'`);
    return { field, op };
  }
  if (op === 'in' || op === 'not in') return { field, op, values: rest.split(',') };
  return { field, op, value: rest };
}

/** Parses every `q=` of a request; the conditions are ANDed, as in ZStack. */
export function parseQConditions(raw: readonly string[]): QueryCondition[] {
  return raw.map(parseQCondition);
}

/**
 * REST `sort=`: `+name` ascending, `-createDate` descending, `name` ascending (ZStack's default).
 *
 * @example parseSort('-createDate') // { field: 'createDate', direction: 'desc' }
 */
export function parseSort(raw: string): SortSpec {
  const s = raw.trim();
  const direction = s.startsWith('-') ? 'desc' : 'asc';
  const field = s.replace(/^[+-]/, '').trim();
  if (!field) throw invalid(`invalid sort '${raw}': no field name`);
  return { field, direction };
}

/** REST `fields=a,b`: trimmed, empty entries dropped; an empty list is an error, as in ZStack. */
export function parseFields(raw: string): string[] {
  const fields = raw.split(',').map((f) => f.trim()).filter((f) => f !== '');
  if (fields.length === 0) throw invalid(`invalid fields '${raw}': it names no field`);
  return fields;
}
