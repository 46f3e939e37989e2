import { SqliteAdapter, type Kysely } from 'kysely';
import { StratoError, SysErrors } from '../errors/error-code.ts';
import type { DbKind } from '../db/database.ts';
import { inventoryColumns, rowToInventory, type NormalizedInventoryDef } from './inventory.ts';
import { withInventoriesText } from './serialized.ts';
import type { InventoriesText } from '../db/read-worker.ts';
import type { InventoryRegistry } from './registry.ts';
import type { SortSpec, WhereNode } from './ast.ts';
import { compiledRunner, type CompiledRunner } from './compiled-cache.ts';
import { columnOf, rootFilter, type CompileContext, type RestrictHook } from './compile-where.ts';

/** REST's default page size (ZStack's APIQueryMessage.limit). */
export const DEFAULT_QUERY_LIMIT = 1000;
/** The largest page one query may ask for; larger pages must be fetched with `start`/`offset`. */
export const MAX_QUERY_LIMIT = 10000;

export const ROOT_ALIAS = 't0';

/** A fully parsed query on one inventory: what both the REST and the ZQL front ends hand to `runPlan`. */
export interface QueryPlan {
  inventory: NormalizedInventoryDef;
  where?: WhereNode;
  /** Only the total, no rows. */
  countOnly: boolean;
  /** Rows and the total. */
  withTotal: boolean;
  limit: number;
  start: number;
  sort: SortSpec[];
  /** Output projection; undefined means every visible field. */
  fields?: string[];
}

export interface PlanResult {
  inventories?: Record<string, unknown>[];
  total?: number;
}

function invalid(details: string): StratoError {
  return new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, details);
}

export function dbKindOf(db: Kysely<any>): DbKind {
  return db.getExecutor().adapter instanceof SqliteAdapter ? 'sqlite' : 'mysql';
}

export function checkPaging(limit: number, start: number): void {
  if (!Number.isInteger(limit) || limit < 0 || limit > MAX_QUERY_LIMIT) {
    throw invalid(`invalid limit ${limit}: it must be an integer from 0 to ${MAX_QUERY_LIMIT}`);
  }
  if (!Number.isInteger(start) || start < 0) throw invalid(`invalid start ${start}: it must be an integer of 0 or more`);
}

/** Checks projected and sort fields up front, so errors name the field before any SQL runs. */
function checkFields(def: NormalizedInventoryDef, names: readonly string[], what: string): void {
  for (const n of names) {
    if (n.includes('.')) throw invalid(`${what} '${n}': only fields of ${def.name} itself can be used here, not nested paths`);
    columnOf(def, n);
  }
}

/** The ORDER BY: the requested sort, else the inventory's default, always ending with the primary key. */
function orderOf(def: NormalizedInventoryDef, sort: readonly SortSpec[]): SortSpec[] {
  let order = [...sort];
  if (order.length === 0) {
    const d = def.defaultSort ?? (def.fields.createDate && !def.fields.createDate.hidden ? 'createDate' : def.primaryKey);
    order = d.split(',').map((s) => s.trim()).filter(Boolean).map((s) => ({ field: s.replace(/^[+-]/, ''), direction: s.startsWith('-') ? 'desc' as const : 'asc' as const }));
  }
  // The primary key breaks ties so pages never overlap; same direction as the last key keeps index scans usable.
  if (!order.some((o) => o.field === def.primaryKey)) order.push({ field: def.primaryKey, direction: order.at(-1)?.direction ?? 'asc' });
  return order;
}

/** The filtered root table of a plan; count and page statements both start from it. */
function baseQuery(db: Kysely<any>, registry: InventoryRegistry, plan: QueryPlan, restrict: RestrictHook | undefined) {
  const ctx: CompileContext = { registry, kind: dbKindOf(db), restrict, nextAlias: 1 };
  return db.selectFrom(`${plan.inventory.table} as ${ROOT_ALIAS}`).where((eb) => rootFilter(ctx, eb, plan.inventory, ROOT_ALIAS, plan.where));
}

/** Runs one plan: a COUNT(*) and/or one page of rows, both computed in SQL. */
export async function runPlan(db: Kysely<any>, registry: InventoryRegistry, plan: QueryPlan, restrict?: RestrictHook): Promise<PlanResult> {
  if (!registry.sealed) throw new Error('the inventory registry must be sealed before queries run');
  const def = plan.inventory;
  checkPaging(plan.limit, plan.start);
  if (plan.fields) checkFields(def, plan.fields, 'field');
  checkFields(def, plan.sort.map((s) => s.field), 'sort field');

  // The SQL is built only when the shape cache has no text for this plan yet (builders below run lazily);
  // plain functions rather than per-request named closures keep the hot path allocation-light.
  const run = compiledRunner(db, plan, restrict, registry);
  const result: PlanResult = {};
  // Count and page are started together: on SQLite a slow one of each runs on the read workers side by side.
  const counting = plan.countOnly || plan.withTotal ? run.count(() => baseQuery(db, registry, plan, restrict).select((eb) => eb.fn.countAll().as('total'))) : undefined;
  if (plan.countOnly) {
    result.total = Number((await counting)?.total ?? 0);
    return result;
  }
  const paging = plan.limit === 0 ? [] : pageOf(db, registry, plan, restrict, run);
  const [countRow, page] = await Promise.all([counting, paging]);
  if (counting) result.total = Number(countRow?.total ?? 0);
  if (!Array.isArray(page)) return withInventoriesText(result, page);
  result.inventories = page.map((r) => rowToInventory(def, r, plan.fields));
  return result;
}

/** One page: the JSON text of its inventories when a worker thread reads it (see serialized.ts), else its rows. */
async function pageOf(db: Kysely<any>, registry: InventoryRegistry, plan: QueryPlan, restrict: RestrictHook | undefined, run: CompiledRunner): Promise<InventoriesText | Record<string, unknown>[]> {
  const def = plan.inventory;
  const viaWorker = run.pageInventories(inventoryColumns(def, plan.fields));
  const text = viaWorker && (await viaWorker.catch(() => undefined));
  if (text !== undefined) return text;
  return run.page(() => {
    const visible = Object.entries(def.fields).filter(([n, f]) => !f.hidden && (!plan.fields || plan.fields.includes(n)));
    const columns = [...new Set(visible.map(([, f]) => f.column))].map((c) => `${ROOT_ALIAS}.${c}`);
    let q = baseQuery(db, registry, plan, restrict).select(columns);
    for (const o of orderOf(def, plan.sort)) q = q.orderBy(`${ROOT_ALIAS}.${def.fields[o.field].column}`, o.direction);
    return q.limit(plan.limit).offset(plan.start);
  });
}
