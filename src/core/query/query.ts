import type { Kysely } from 'kysely';
import { StratoError, SysErrors } from '../errors/error-code.ts';
import type { InventoryRegistry } from './registry.ts';
import { allOf, type QueryCondition, type SortSpec } from './ast.ts';
import { parseQCondition, parseSort } from './q-parser.ts';
import type { RestrictHook } from './compile-where.ts';
import { DEFAULT_QUERY_LIMIT, runPlan } from './plan.ts';

/** What `Query*` APIs accept: ZStack's APIQueryMessage, minus groupBy/filterName. */
export interface QueryOptions {
  /** Raw `q=` strings (`name=z1`, `state?=A,B`) and/or already parsed conditions; all are ANDed. */
  conditions?: ReadonlyArray<string | QueryCondition>;
  /** Page size, 0..MAX_QUERY_LIMIT (10000); default 1000 like ZStack. */
  limit?: number;
  /** Rows to skip, ≥ 0; default 0. */
  start?: number;
  /** Only the total (`{ total }`), no inventories. */
  count?: boolean;
  /** Inventories and the total. */
  replyWithCount?: boolean;
  /** `+name`, `-createDate`, `name`, or a parsed SortSpec. The primary key is always appended as a tie-breaker. */
  sort?: string | SortSpec;
  /** Output projection: only these fields are selected and returned. */
  fields?: readonly string[];
  /** Tenant isolation: an extra condition on the root table. */
  restrict?: RestrictHook;
}

export interface QueryResult {
  /** Absent when `count` was set. */
  inventories?: Record<string, unknown>[];
  /** Present when `count` or `replyWithCount` was set. */
  total?: number;
}

/**
 * Runs a ZStack `Query<Resource>` API on one inventory: `q=` conditions, paging, sort, projection and
 * counting, all done in SQL (one COUNT and/or one page; never the whole table).
 *
 * @example
 *   // GET /zstack/v1/clusters?q=zone.name=z1&q=state?=Enabled,Disabled&limit=20&replyWithCount=true&sort=-createDate
 *   const r = await executeQuery(db, registry, 'ClusterInventory', {
 *     conditions: ['zone.name=z1', 'state?=Enabled,Disabled'], limit: 20, replyWithCount: true, sort: '-createDate' });
 *   // r = { inventories: [...], total: 42 }
 */
export async function executeQuery(db: Kysely<any>, registry: InventoryRegistry, inventoryName: string, options: QueryOptions = {}): Promise<QueryResult> {
  const inventory = registry.find(inventoryName);
  if (!inventory) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `unknown inventory ${inventoryName}`);
  const conditions = (options.conditions ?? []).map((c) => (typeof c === 'string' ? parseQCondition(c) : c));
  const sort = options.sort === undefined || options.sort === '' ? [] : [typeof options.sort === 'string' ? parseSort(options.sort) : options.sort];
  const result = await runPlan(db, registry, {
    inventory,
    where: allOf(conditions),
    countOnly: options.count === true,
    withTotal: options.replyWithCount === true,
    limit: options.limit ?? DEFAULT_QUERY_LIMIT,
    start: options.start ?? 0,
    sort,
    fields: options.fields ? [...options.fields] : undefined,
  }, options.restrict);
  return result;
}

/**
 * `GET /zstack/v1/<resources>/{uuid}`: ZStack adds a `uuid=` condition and answers with a (possibly
 * empty) `inventories` list, never 404.
 *
 * @example const { inventories } = await getByUuid(db, registry, 'ZoneInventory', uuid);
 */
export async function getByUuid(db: Kysely<any>, registry: InventoryRegistry, inventoryName: string, uuid: string, options: Pick<QueryOptions, 'restrict' | 'fields'> = {}): Promise<QueryResult> {
  const inventory = registry.find(inventoryName);
  if (!inventory) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `unknown inventory ${inventoryName}`);
  return executeQuery(db, registry, inventoryName, { ...options, conditions: [{ field: inventory.primaryKey, op: '=', value: uuid }], limit: 1 });
}
