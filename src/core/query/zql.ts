import type { Kysely } from 'kysely';
import { StratoError, SysErrors } from '../errors/error-code.ts';
import type { InventoryRegistry } from './registry.ts';
import type { RestrictHook } from './compile-where.ts';
import { DEFAULT_QUERY_LIMIT, runPlan } from './plan.ts';
import { parseZql, type ZqlStatement } from './zql-parser.ts';

/**
 * One statement's result, in the shape of ZStack's `ZQLQueryReturn`: `inventories` for `query`,
 * `total` for `count` and for `return with (total)`, `name` for `named as`. Absent keys are omitted
 * (ZStack's Gson drops nulls).
 */
export interface ZqlQueryReturn {
  inventories?: Record<string, unknown>[];
  total?: number;
  returnWith?: Record<string, unknown>;
  name?: string;
}

/** `GET /zstack/v1/zql` answers `{ "results": [ZQLQueryReturn, …] }` (APIZQLQueryReply, allTo="results"). */
export interface ZqlReply {
  results: ZqlQueryReturn[];
}

export interface ZqlOptions {
  restrict?: RestrictHook;
}

const SUPPORTED_RETURN_WITH = new Set(['total']);

/**
 * Parses and runs ZQL text: one result per `;`-separated statement. Every statement is parsed (and its
 * entity resolved) before any runs, so a syntax error anywhere runs nothing. A `query` without `limit` gets
 * the REST default page size (DEFAULT_QUERY_LIMIT) instead of the whole table.
 *
 * @example
 *   await executeZql(db, registry, "query zone where name like 'z%' return with (total) order by name limit 10; count host")
 *   // { results: [ { inventories: [...], total: 3 }, { total: 12 } ] }
 */
export async function executeZql(db: Kysely<any>, registry: InventoryRegistry, text: string, options: ZqlOptions = {}): Promise<ZqlReply> {
  if (typeof text !== 'string' || text.trim() === '') throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, 'zql is empty');
  const statements = parseZql(text);
  const plans = statements.map((st) => planOf(registry, st));
  const results: ZqlQueryReturn[] = [];
  for (const { st, plan } of plans) {
    const r = await runPlan(db, registry, plan, options.restrict);
    const out: ZqlQueryReturn = {};
    if (r.inventories) out.inventories = r.inventories;
    if (r.total !== undefined) out.total = r.total;
    if (st.name !== undefined) out.name = st.name;
    results.push(out);
  }
  return { results };
}

function planOf(registry: InventoryRegistry, st: ZqlStatement) {
  const inventory = registry.byEntity(st.entity);
  if (!inventory) {
    throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `unknown ZQL entity '${st.entity}'; valid entities are: ${registry.entities().join(', ')}`);
  }
  for (const r of st.returnWith) {
    if (!SUPPORTED_RETURN_WITH.has(r)) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `unsupported 'return with (${r})': only 'total' is supported`);
  }
  const countOnly = st.kind === 'count';
  return {
    st,
    plan: {
      inventory,
      where: st.where,
      countOnly,
      withTotal: st.returnWith.includes('total'),
      limit: st.limit ?? DEFAULT_QUERY_LIMIT,
      start: st.offset ?? 0,
      sort: st.orderBy,
      fields: st.fields,
    },
  };
}
