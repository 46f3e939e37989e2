import type { TSchema } from '@sinclair/typebox';
import type { ApiDef } from '../core/api/define-api.ts';

/** Operators a `key<op>value` argument may use on query APIs, longest first (ZStack's q= spellings). */
const QUERY_OPS = ['!?=', '!~=', '!=', '>=', '<=', '?=', '~=', '=', '>', '<'];
/** Arguments of query APIs that are options rather than conditions. */
const QUERY_OPTIONS = new Set(['limit', 'start', 'count', 'replyWithCount', 'sort', 'sortBy', 'sortDirection', 'fields', 'groupBy', 'filterName']);

/**
 * Turns `key=value` words into API parameters typed by the API's schema: numbers, booleans,
 * comma-separated lists for array parameters, JSON for objects. On query APIs every other
 * `field<op>value` word becomes a `q=` condition (`QueryZone name~=z%`).
 */
export function parseCliArgs(api: ApiDef, words: readonly string[]): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  const conditions: string[] = [];
  for (const w of words) {
    if (api.query) {
      const nullCheck = /^(\S+) (is null|not null)$/.exec(w) ?? /^(\S+)\s+(is null|not null)$/.exec(w);
      if (nullCheck) {
        conditions.push(w);
        continue;
      }
      const eq = w.indexOf('=');
      const key = eq > 0 ? w.slice(0, eq) : '';
      if (QUERY_OPTIONS.has(key)) {
        params[key] = convert(api.schema.properties[key], w.slice(eq + 1), key);
        continue;
      }
      if (!QUERY_OPS.some((op) => w.includes(op))) throw new Error(`cannot read [${w}]: expected field<op>value with one of ${QUERY_OPS.join(' ')}`);
      conditions.push(w);
      continue;
    }
    const eq = w.indexOf('=');
    if (eq <= 0) throw new Error(`cannot read [${w}]: expected key=value`);
    const key = w.slice(0, eq);
    params[key] = convert(api.schema.properties[key], w.slice(eq + 1), key);
  }
  if (conditions.length) params.q = conditions;
  return params;
}

function convert(schema: TSchema | undefined, raw: string, key: string): unknown {
  const type = typeOf(schema);
  // A string parameter is text whatever it starts with (`description=[draft] rack 4`); JSON is for the rest.
  if (type !== 'string' && (raw.startsWith('{') || raw.startsWith('['))) {
    try {
      return JSON.parse(raw);
    } catch {
      throw new Error(`[${key}] looks like JSON but does not parse`);
    }
  }
  if (type === 'array') return raw === '' ? [] : raw.split(',').map((v) => convert((schema as any).items, v, key));
  if (type === 'integer' || type === 'number') return /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
  if (type === 'boolean') return raw === 'true' ? true : raw === 'false' ? false : raw;
  return raw;
}

function typeOf(s: TSchema | undefined): string | undefined {
  if (!s) return undefined;
  if (typeof (s as any).type === 'string') return (s as any).type;
  const v = ((s as any).anyOf ?? []) as TSchema[];
  const types = new Set(v.map((x) => (x as any).type));
  return types.size === 1 ? [...types][0] : undefined;
}
