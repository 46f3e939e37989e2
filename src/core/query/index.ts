/**
 * Strato's query engine: ZStack's `Query*` APIs (REST `q=`) and ZQL over one shared SQL compiler.
 *
 * Pipeline
 *   1. Declare: each resource declares its inventory once (`defineInventory`: table, fields with types,
 *      hidden fields, expansions for nested paths) and registers it in an `InventoryRegistry`, which is
 *      `seal()`ed at start-up (expansions are checked then).
 *   2. Parse: REST `q=name=z1` strings go through `parseQCondition` (ZStack's RestServer operator
 *      lookup); ZQL text goes through a hand-written lexer (`zql-lexer.ts`) and recursive-descent
 *      parser (`zql-parser.ts`). Both produce the same AST (`ast.ts`): `QueryCondition`s in a
 *      `WhereNode` and/or tree, plus sort/limit/start/fields.
 *   3. Plan: `executeQuery` / `executeZql` turn the request into a `QueryPlan` (`plan.ts`).
 *   4. Compile: `compile-where.ts` turns the AST into one Kysely boolean expression on the root table
 *      `t0`: plain fields compare columns with values converted by the declared field type (dates as
 *      epoch ms); nested paths become `t0.fk IN (SELECT t1.key FROM other t1 WHERE …)` recursively;
 *      tag pseudo-fields become `t0.uuid [NOT] IN (SELECT resourceUuid FROM user_tag|system_tag …)`;
 *      ZQL sub-queries become `IN (SELECT …)`; the caller's `restrict` hook is ANDed in.
 *   5. Run: one `SELECT COUNT(*)` (count / replyWithCount) and/or one page `SELECT cols … ORDER BY
 *      sort, pk LIMIT n OFFSET s` — never the whole table, never one query per row — then
 *      `rowToInventory` shapes each row (ISO dates, true/false) and `buildQueryReplySchema` writes the
 *      `schema` map the SDKs need. Repeated shapes skip Kysely (`compiled-cache.ts`); on SQLite their
 *      totals are reused until a table they read changes, and a page read that proved slow runs on a
 *      worker thread with its own read-only connection (committed rows only: `db/direct-read.ts`).
 *
 * @example
 *   const registry = new InventoryRegistry().register(ZoneInventory).register(ClusterInventory).seal();
 *   await executeQuery(db, registry, 'ClusterInventory', { conditions: ['zone.name=z1'], replyWithCount: true });
 *   await executeZql(db, registry, "count cluster where zone.name = 'z1'");
 */
export * from './inventory.ts';
export * from './ast.ts';
export { InventoryRegistry } from './registry.ts';
export { parseQCondition, parseQConditions, parseSort, parseFields } from './q-parser.ts';
export { toColumnValue, parseDate } from './values.ts';
export { TAG_TABLES, type RestrictHook } from './compile-where.ts';
export { OWNERSHIP_TABLES, setTenantPolicy, tenantPolicyOf, tenantRestriction, visibleResource, type TenantPolicy } from './access-filter.ts';
export { DEFAULT_QUERY_LIMIT, MAX_QUERY_LIMIT, ROOT_ALIAS } from './plan.ts';
export { executeQuery, getByUuid, type QueryOptions, type QueryResult } from './query.ts';
export { executeZql, type ZqlOptions, type ZqlQueryReturn, type ZqlReply } from './zql.ts';
export { parseZql, type ZqlStatement } from './zql-parser.ts';
export { buildListSchema, buildNestedSchema, buildQueryReplySchema, type NestedListClasses } from './schema-map.ts';
export { queryOptionsFromRest, queryReplyBody, type RestQueryParams, type QueryReplyBody } from './rest-params.ts';
