import { CompiledQuery, type Kysely } from 'kysely';
import type { QueryCondition, WhereNode } from './ast.ts';
import { isTagField } from './ast.ts';
import type { RestrictHook } from './compile-where.ts';
import type { QueryPlan } from './plan.ts';
import { toColumnValue } from './values.ts';
import { directReader } from '../db/direct-read.ts';
import { writeEpoch } from '../db/write-epochs.ts';

/**
 * Building and compiling a query with Kysely costs more than running it, and most API reads repeat a
 * few shapes (`uuid=…`, `state=…&limit=20`). Queries whose conditions are all on the inventory's own
 * fields are compiled once per shape; later queries of that shape reuse the SQL text with their own
 * values. A shape is cached only after its first compilation proved that the parameters are exactly
 * the condition values in order (then limit and offset), so a shape whose SQL binds anything else
 * (tag tables, sub-queries, tenant restrictions) is always built afresh.
 */
/** The plan the cache keys on: the query plan itself (type only; plan.ts runs through this cache). */
export type ShapePlan = Pick<QueryPlan, 'inventory' | 'where' | 'countOnly' | 'withTotal' | 'limit' | 'start' | 'sort' | 'fields'>;

interface CachedShape {
  countSql?: string;
  pageSql?: string;
  /**
   * `pageSql` up to its trailing `limit `, for direct SQLite reads. SQLite (3.46+, as bundled by
   * better-sqlite3) lets a bound LIMIT/OFFSET value steer the plan, so binding one marks the prepared
   * statement expired and every execution re-parses and re-plans the SQL (~15 µs, more than the
   * read). Writing the two validated integers into the text keeps the prepared statement valid.
   */
  pageHead?: string;
  /**
   * Totals by condition values, each with the write epoch of the table it was counted at (SQLite only):
   * a count reads every matching index entry (40,500 of 100,000 VMs: ≈ 5 ms), and paging through a
   * list asks for the same total again and again while nothing was written to the table.
   */
  totals?: Map<string, { epoch: string; row: Record<string, unknown> | undefined }>;
}

/** Totals kept per shape (the most recently counted condition values). */
const MAX_TOTALS_PER_SHAPE = 64;

const valuesKey = (params: readonly unknown[]) => params.map((v) => `${typeof v}:${String(v)}`).join('\u0001');

const PAGE_TAIL = ' limit ? offset ?';

const caches = new WeakMap<Kysely<any>, Map<string, CachedShape>>();
const MAX_SHAPES = 2000;

function flatConditions(where: WhereNode | undefined): QueryCondition[] | undefined {
  if (!where) return [];
  if (where.kind === 'condition') return [where.condition];
  if (where.kind !== 'and') return undefined;
  const out: QueryCondition[] = [];
  for (const c of where.children) {
    if (c.kind !== 'condition') return undefined;
    out.push(c.condition);
  }
  return out;
}

/** The cache key of a plan's shape, or undefined when the plan is not of a cacheable shape. */
export function shapeKey(plan: ShapePlan, restrict: RestrictHook | undefined): string | undefined {
  if (restrict) return undefined;
  const conds = flatConditions(plan.where);
  if (!conds) return undefined;
  const parts: string[] = [plan.inventory.name, plan.countOnly ? 'c' : '', plan.withTotal ? 't' : '', plan.fields?.join(',') ?? '*', plan.sort.map((s) => `${s.field}:${s.direction}`).join(',')];
  for (const c of conds) {
    const f = plan.inventory.fields[c.field];
    // Anything the compiler must reject or treat specially is left to the compiler.
    if (c.subQuery || c.field.includes('.') || isTagField(c.field) || !f || f.hidden) return undefined;
    if ((c.op === 'like' || c.op === 'not like') && f.type !== 'string') return undefined;
    parts.push(`${c.field}\u0001${c.op}\u0001${c.values ? c.values.length : c.value === undefined ? '-' : '1'}`);
  }
  return parts.join('\u0002');
}

/** The condition values in order, converted as the compiler converts them. */
function conditionParams(plan: ShapePlan): unknown[] {
  const out: unknown[] = [];
  for (const c of flatConditions(plan.where) ?? []) {
    const type = plan.inventory.fields[c.field].type;
    if (c.values) for (const v of c.values) out.push(toColumnValue(c.field, type, v));
    else if (c.value !== undefined) out.push(toColumnValue(c.field, type, c.value));
  }
  return out;
}

function sameParams(actual: readonly unknown[], expected: readonly unknown[]): boolean {
  return actual.length === expected.length && actual.every((v, i) => v === expected[i] || (typeof v === 'boolean' && Number(v) === Number(expected[i])));
}

export interface CompiledRunner {
  count(build: () => { compile(): CompiledQuery }): Promise<Record<string, unknown> | undefined>;
  page(build: () => { compile(): CompiledQuery }): Promise<Record<string, unknown>[]>;
}

function remember(cache: Map<string, CachedShape>, key: string, patch: CachedShape): void {
  if (cache.size >= MAX_SHAPES && !cache.has(key)) cache.delete(cache.keys().next().value as string);
  cache.set(key, { ...cache.get(key), ...patch });
}

/** Runs the count and page queries of one plan through the shape cache (when the shape allows it). */
export function compiledRunner(db: Kysely<any>, plan: ShapePlan, restrict: RestrictHook | undefined): CompiledRunner {
  const key = shapeKey(plan, restrict);
  let cache = caches.get(db);
  if (!cache) caches.set(db, (cache = new Map()));
  const entry = key ? cache.get(key) : undefined;
  const params = key ? conditionParams(plan) : [];
  const direct = directReader(db);
  return {
    async count(build) {
      if (entry?.countSql) {
        // The epoch is read before counting: a write landing in between makes the total stale at once, never wrongly fresh.
        const epoch = direct && writeEpoch(db)?.(plan.inventory.table);
        if (direct && epoch !== undefined) {
          const values = valuesKey(params);
          const known = entry.totals?.get(values);
          if (known && known.epoch === epoch) return known.row;
          const rows = direct(entry.countSql, params);
          if (rows) {
            entry.totals ??= new Map();
            entry.totals.delete(values);
            entry.totals.set(values, { epoch, row: rows[0] });
            if (entry.totals.size > MAX_TOTALS_PER_SHAPE) entry.totals.delete(entry.totals.keys().next().value as string);
            return rows[0];
          }
        }
        return (direct?.(entry.countSql, params) ?? (await db.executeQuery<Record<string, unknown>>(CompiledQuery.raw(entry.countSql, params))).rows)[0];
      }
      const compiled = build().compile();
      if (key && sameParams(compiled.parameters, params)) remember(cache, key, { countSql: compiled.sql });
      return (await db.executeQuery<Record<string, unknown>>(compiled)).rows[0];
    },
    async page(build) {
      const tail = [plan.limit, plan.start];
      if (entry?.pageSql) {
        if (direct && entry.pageHead !== undefined && Number.isSafeInteger(plan.limit) && Number.isSafeInteger(plan.start)) {
          const rows = direct(`${entry.pageHead}${plan.limit} offset ${plan.start}`, params);
          if (rows) return rows;
        }
        const all = [...params, ...tail];
        return direct?.(entry.pageSql, all) ?? (await db.executeQuery<Record<string, unknown>>(CompiledQuery.raw(entry.pageSql, all))).rows;
      }
      const compiled = build().compile();
      if (key && sameParams(compiled.parameters, [...params, ...tail])) {
        remember(cache, key, { pageSql: compiled.sql, pageHead: compiled.sql.endsWith(PAGE_TAIL) ? compiled.sql.slice(0, -'? offset ?'.length) : undefined });
      }
      return (await db.executeQuery<Record<string, unknown>>(compiled)).rows;
    },
  };
}
