import { StratoError, SysErrors } from '../errors/error-code.ts';
import type { NormalizedInventoryDef } from './inventory.ts';
import type { QueryOptions, QueryResult } from './query.ts';
import { parseFields } from './q-parser.ts';
import { buildQueryReplySchema, type NestedListClasses } from './schema-map.ts';

/** A decoded query string: repeated keys as arrays (Fastify's default parser gives exactly this). */
export type RestQueryParams = Record<string, string | string[] | undefined>;

const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v)?.trim();
const all = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function integer(name: string, raw: string): number {
  // Java's Integer.valueOf: an optional sign and digits, nothing else.
  if (!/^[+-]?\d+$/.test(raw)) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `Invalid query parameter. '${name}' must be an integer`);
  return Number(raw);
}

/**
 * Reads `GET /zstack/v1/<resources>?q=…&limit=…` parameters the way ZStack's RestServer.handleQueryApi
 * does: repeated `q`, `limit`, `start`, `count`, `replyWithCount` (Java Boolean.valueOf: only
 * "true", any case, is true), `sort` (`+f`/`-f`/`f`), `fields` (`a,b`). `groupBy` and `filterName` are
 * accepted and ignored; unknown parameters are ignored, as ZStack does.
 *
 * @example
 *   const opts = queryOptionsFromRest(request.query as RestQueryParams);
 *   const result = await executeQuery(db, registry, 'ZoneInventory', { ...opts, restrict });
 */
export function queryOptionsFromRest(params: RestQueryParams): QueryOptions {
  const opts: { -readonly [K in keyof QueryOptions]: QueryOptions[K] } = {};
  const q = all(params.q);
  if (q.length > 0) opts.conditions = q;
  const limit = first(params.limit);
  if (limit !== undefined) opts.limit = integer('limit', limit);
  const start = first(params.start);
  if (start !== undefined) opts.start = integer('start', start);
  const count = first(params.count);
  if (count !== undefined) opts.count = count.toLowerCase() === 'true';
  const withCount = first(params.replyWithCount);
  if (withCount !== undefined) opts.replyWithCount = withCount.toLowerCase() === 'true';
  const sort = first(params.sort);
  if (sort) opts.sort = sort;
  const fields = first(params.fields);
  if (fields !== undefined) opts.fields = parseFields(fields);
  return opts;
}

/** The 200 body of a query API: `{inventories, total?, schema}`, or `{total, schema: {}}` for count=true. */
export interface QueryReplyBody {
  inventories?: Record<string, unknown>[];
  total?: number;
  schema: Record<string, string>;
}

/**
 * Shapes a query result for the wire, adding the `schema` map ZStack's SDKs need.
 *
 * @example reply.send(queryReplyBody(ZoneInventory, await executeQuery(db, registry, 'ZoneInventory', opts)));
 */
export function queryReplyBody(inventory: NormalizedInventoryDef, result: QueryResult, nested?: NestedListClasses): QueryReplyBody {
  // Key order as ZStack writes them: inventories, total, schema.
  const body: Partial<QueryReplyBody> = {};
  if (result.inventories) body.inventories = result.inventories;
  if (result.total !== undefined) body.total = result.total;
  body.schema = buildQueryReplySchema(result.inventories, inventory.className, nested);
  return body as QueryReplyBody;
}
