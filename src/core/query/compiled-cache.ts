import { CompiledQuery, type Kysely } from 'kysely';
import type { Literal, QueryCondition, WhereNode } from './ast.ts';
import { isTagField } from './ast.ts';
import { prefixRange, TAG_INVERSE, TAG_TABLES, type RestrictHook } from './compile-where.ts';
import type { NormalizedInventoryDef } from './inventory.ts';
import type { QueryPlan } from './plan.ts';
import type { InventoryRegistry } from './registry.ts';
import { toColumnValue } from './values.ts';
import { directReader, offloadedInventoryReader, offloadedReader, unseenWrites } from '../db/direct-read.ts';
import type { InventoriesText, InventoryColumns } from '../db/read-worker.ts';
import { totalsEpoch } from '../db/write-epochs.ts';

/**
 * Building and compiling a query with Kysely costs more than running it, and most API reads repeat a
 * few shapes (`uuid=…`, `state=…&limit=20`, `vmNics.ip~=10.0.1.%`, `__userTag__=…`). Queries whose
 * conditions are a flat AND of plain, nested-path or tag conditions are compiled once per shape; later
 * queries of that shape reuse the SQL text with their own values. The parameters a shape binds are
 * predicted from the conditions the way the compiler emits them (a tag's resource type before its
 * value, a LIKE's implied range after its pattern), and a shape is cached only after its first
 * compilation proved that prediction exact (then limit and offset), so a shape whose SQL binds
 * anything else (ZQL sub-queries, tenant restrictions) is always built afresh.
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
   * Totals by condition values, each with the write epochs of the tables it read (SQLite only): a
   * count reads every matching index entry (40,500 of 100,000 VMs: ≈ 5 ms), and paging through a list
   * asks for the same total again and again while nothing was written to those tables.
   */
  totals?: Map<string, { epoch: string; row: Record<string, unknown> | undefined }>;
  /** Every table the shape's SQL reads: the root, each nested hop's, the tag tables. */
  tables?: readonly string[];
  /** Main-thread milliseconds of the shape's last direct page read (SQLite), to decide whether to offload it. */
  pageMs?: number;
  /** The same for its count (a count reads every matching index entry: 40,500 of 100,000 VMs take ≈ 5 ms). */
  countMs?: number;
  /**
   * Counts running off the event loop, by condition values and epoch: callers asking for the same total
   * meanwhile wait for that one (when a total goes stale, ten clients paging the same list all missed at
   * once and ran ten counts side by side).
   */
  counting?: Map<string, Promise<Record<string, unknown> | undefined>>;
}

/** A worker that could not count (the main thread counts instead). */
const NOT_COUNTED: Record<string, unknown> = Object.freeze({});

/** The count already running for `key` on this shape, or `run` started as it. */
function countOnce(entry: CachedShape, key: string, run: () => Promise<Record<string, unknown> | undefined>): Promise<Record<string, unknown> | undefined> {
  entry.counting ??= new Map();
  const running = entry.counting.get(key);
  if (running) return running;
  const p = run().finally(() => entry.counting?.delete(key));
  entry.counting.set(key, p);
  return p;
}

/**
 * A page read that took longer than this on the event loop is read on the database's worker thread
 * from then on (SQLite files: see OffloadedReader). Short reads stay: passing a read to the thread and
 * its rows back costs ≈ 0.1 ms of the event loop, more than a page by uuid or of a few rows.
 */
let offloadAboveMs = 0.5;

/** Changes the offload threshold for pages and counts (tests force every one onto the worker with 0); returns the previous one. */
export function setPageOffloadThresholdMs(ms: number): number {
  const before = offloadAboveMs;
  offloadAboveMs = ms;
  return before;
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

/** What a condition's path leads to: the inventory holding its last field, and the tables on the way. */
interface ResolvedPath {
  leaf: NormalizedInventoryDef;
  field: string;
  tables: string[];
}

/** Resolved paths by inventory, registry (or none) and field: every query of a shape resolves them again. */
const resolvedPaths = new WeakMap<NormalizedInventoryDef, WeakMap<object, Map<string, ResolvedPath | null>>>();
const NO_REGISTRY = {};
const MAX_RESOLVED_PATHS = 1000;

function resolvePath(plan: ShapePlan, registry: InventoryRegistry | undefined, field: string): ResolvedPath | undefined {
  let byRegistry = resolvedPaths.get(plan.inventory);
  if (!byRegistry) resolvedPaths.set(plan.inventory, (byRegistry = new WeakMap()));
  let byField = byRegistry.get(registry ?? NO_REGISTRY);
  if (!byField) byRegistry.set(registry ?? NO_REGISTRY, (byField = new Map()));
  let resolved = byField.get(field);
  if (resolved === undefined) {
    resolved = resolveUncached(plan, registry, field) ?? null;
    if (byField.size >= MAX_RESOLVED_PATHS) byField.clear();
    byField.set(field, resolved);
  }
  return resolved ?? undefined;
}

function resolveUncached(plan: ShapePlan, registry: InventoryRegistry | undefined, field: string): ResolvedPath | undefined {
  const path = field.split('.');
  let def = plan.inventory;
  const tables = [def.table];
  for (const head of path.slice(0, -1)) {
    const exp = Object.hasOwn(def.expansions, head) ? def.expansions[head] : undefined;
    const next = exp && registry?.find(exp.inventory);
    if (!next || !Object.hasOwn(def.fields, exp.foreignKey) || !Object.hasOwn(next.fields, exp.expandedKey)) return undefined;
    def = next;
    tables.push(def.table);
  }
  const last = path[path.length - 1];
  if (isTagField(last)) tables.push(TAG_TABLES[last]);
  return { leaf: def, field: last, tables };
}

/**
 * The cache key of a plan's shape, or undefined when the plan is not of a cacheable shape. Nested paths
 * are cacheable only with the registry that resolves their expansions.
 */
export function shapeKey(plan: ShapePlan, restrict: RestrictHook | undefined, registry?: InventoryRegistry): string | undefined {
  if (restrict) return undefined;
  const conds = flatConditions(plan.where);
  if (!conds) return undefined;
  const parts: string[] = [plan.inventory.name, plan.countOnly ? 'c' : '', plan.withTotal ? 't' : '', plan.fields?.join(',') ?? '*', plan.sort.map((s) => `${s.field}:${s.direction}`).join(',')];
  for (const c of conds) {
    if (c.subQuery) return undefined;
    const resolved = resolvePath(plan, registry, c.field);
    if (!resolved) return undefined;
    const { leaf, field } = resolved;
    let op = c.op;
    if (isTagField(field)) {
      // Tags compile the inverse of a negative op into NOT IN; `is null` binds no value.
      const inverse = TAG_INVERSE[c.op];
      if (inverse === null) op = 'is null';
      else if (inverse !== undefined) op = inverse;
    } else {
      const f = Object.hasOwn(leaf.fields, field) ? leaf.fields[field] : undefined;
      // Anything the compiler must reject or treat specially is left to the compiler.
      if (!f || f.hidden) return undefined;
      if ((c.op === 'like' || c.op === 'not like') && f.type !== 'string') return undefined;
    }
    // A LIKE whose pattern gets an index range compiles to different SQL than one that does not.
    const ranged = op === 'like' && c.value !== undefined && prefixRange(String(c.value)) ? 'r' : '';
    parts.push(`${c.field}\u0001${c.op}${ranged}\u0001${c.values ? c.values.length : c.value === undefined ? '-' : '1'}`);
  }
  return parts.join('\u0002');
}

/** The values one comparison binds, in the compiler's order (`compare` in compile-where.ts). */
function compareParams(out: unknown[], c: QueryCondition, op: QueryCondition['op'], convert: (v: Literal) => unknown): void {
  if (op === 'is null' || op === 'is not null') return;
  if (op === 'like' || op === 'not like') {
    if (c.value === undefined) return;
    const pattern = String(c.value);
    out.push(pattern);
    const range = op === 'like' ? prefixRange(pattern) : undefined;
    if (range) out.push(range[0], range[1]);
    return;
  }
  if (c.values) for (const v of c.values) out.push(convert(v));
  else if (c.value !== undefined) out.push(convert(c.value));
}

/** The values a cacheable plan binds, in order, converted as the compiler converts them. */
function conditionParams(plan: ShapePlan, registry: InventoryRegistry | undefined): unknown[] {
  const out: unknown[] = [];
  for (const c of flatConditions(plan.where) ?? []) {
    const { leaf, field } = resolvePath(plan, registry, c.field)!;
    if (isTagField(field)) {
      out.push(leaf.resourceType);
      const inverse = TAG_INVERSE[c.op];
      if (inverse !== null) compareParams(out, c, inverse ?? c.op, (v) => String(v));
    } else {
      const type = leaf.fields[field].type;
      compareParams(out, c, c.op, (v) => toColumnValue(c.field, type, v));
    }
  }
  return out;
}

/** The tables a cacheable plan reads, for the write epochs its totals are kept under. */
function planTables(plan: ShapePlan, registry: InventoryRegistry | undefined): string[] {
  const tables = new Set([plan.inventory.table]);
  for (const c of flatConditions(plan.where) ?? []) for (const t of resolvePath(plan, registry, c.field)!.tables) tables.add(t);
  return [...tables];
}

function sameParams(actual: readonly unknown[], expected: readonly unknown[]): boolean {
  return actual.length === expected.length && actual.every((v, i) => v === expected[i] || (typeof v === 'boolean' && Number(v) === Number(expected[i])));
}

export interface CompiledRunner {
  count(build: () => { compile(): CompiledQuery }): Promise<Record<string, unknown> | undefined>;
  page(build: () => { compile(): CompiledQuery }): Promise<Record<string, unknown>[]>;
  /**
   * The page as the JSON text of its inventories, read and converted on a worker thread, when this
   * shape's page is one that is read there; else undefined (and `page` reads it). A rejected promise
   * means: read it with `page`.
   */
  pageInventories(inventory: InventoryColumns): Promise<InventoriesText> | undefined;
}

/** The write epochs of every table a total read, as one token; undefined where there are none. */
function epochOf(db: Kysely<any>, tables: readonly string[]): string | undefined {
  const epoch = totalsEpoch(db);
  if (!epoch) return undefined;
  if (tables.length === 1) return epoch(tables[0]);
  const parts: string[] = [];
  for (const t of tables) {
    const e = epoch(t);
    if (e === undefined) return undefined;
    parts.push(e);
  }
  return parts.join('|');
}

function remember(cache: Map<string, CachedShape>, key: string, patch: CachedShape): void {
  if (cache.size >= MAX_SHAPES && !cache.has(key)) cache.delete(cache.keys().next().value as string);
  cache.set(key, { ...cache.get(key), ...patch });
}

/** Runs the count and page queries of one plan through the shape cache (when the shape allows it). */
export function compiledRunner(db: Kysely<any>, plan: ShapePlan, restrict: RestrictHook | undefined, registry?: InventoryRegistry): CompiledRunner {
  const key = shapeKey(plan, restrict, registry);
  let cache = caches.get(db);
  if (!cache) caches.set(db, (cache = new Map()));
  const entry = key ? cache.get(key) : undefined;
  const params = key ? conditionParams(plan, registry) : [];
  const direct = directReader(db);
  return {
    async count(build) {
      if (entry?.countSql) {
        // The epoch is read before counting: a write landing in between makes the total stale at once, never wrongly fresh.
        const epoch = epochOf(db, entry.tables ?? [plan.inventory.table]);
        if (epoch !== undefined) {
          const values = valuesKey(params);
          const known = entry.totals?.get(values);
          if (known && known.epoch === epoch) return known.row;
          const keep = (row: Record<string, unknown> | undefined) => {
            entry.totals ??= new Map();
            entry.totals.delete(values);
            entry.totals.set(values, { epoch, row });
            if (entry.totals.size > MAX_TOTALS_PER_SHAPE) entry.totals.delete(entry.totals.keys().next().value as string);
            return row;
          };
          // MariaDB: counted on a pooled connection (what is committed); writes still in a transaction bump at their COMMIT
          const countSql = entry.countSql;
          const flight = `${values}\u0000${epoch}`;
          if (!direct) return countOnce(entry, flight, async () => keep((await db.executeQuery<Record<string, unknown>>(CompiledQuery.raw(countSql, params))).rows[0]));
          const offload = entry.countMs !== undefined && entry.countMs >= offloadAboveMs ? offloadedReader(db) : undefined;
          if (offload) {
            // The worker sees only committed rows: with writes pending here (counted in the epoch already) its total is not kept.
            const seesAll = unseenWrites(db)?.() === false;
            const rows = await countOnce(entry, flight, async () => {
              const r = await offload(countSql, params)?.catch(() => undefined);
              return r ? (seesAll ? keep(r[0]) : r[0]) : NOT_COUNTED;
            });
            if (rows !== NOT_COUNTED) return rows;
          }
          const t0 = performance.now();
          const rows = direct(entry.countSql, params);
          if (rows) {
            entry.countMs = performance.now() - t0;
            return keep(rows[0]);
          }
        }
        return (direct?.(entry.countSql, params) ?? (await db.executeQuery<Record<string, unknown>>(CompiledQuery.raw(entry.countSql, params))).rows)[0];
      }
      const compiled = build().compile();
      if (key && sameParams(compiled.parameters, params)) remember(cache, key, { countSql: compiled.sql, tables: planTables(plan, registry) });
      return (await db.executeQuery<Record<string, unknown>>(compiled)).rows[0];
    },
    pageInventories(inventory) {
      if (!direct || entry?.pageHead === undefined || entry.pageMs === undefined || entry.pageMs < offloadAboveMs) return undefined;
      if (!Number.isSafeInteger(plan.limit) || !Number.isSafeInteger(plan.start)) return undefined;
      return offloadedInventoryReader(db)?.(`${entry.pageHead}${plan.limit} offset ${plan.start}`, params, inventory);
    },
    async page(build) {
      const tail = [plan.limit, plan.start];
      if (entry?.pageSql) {
        if (direct && entry.pageHead !== undefined && Number.isSafeInteger(plan.limit) && Number.isSafeInteger(plan.start)) {
          const sql = `${entry.pageHead}${plan.limit} offset ${plan.start}`;
          const offload = entry.pageMs !== undefined && entry.pageMs >= offloadAboveMs ? offloadedReader(db) : undefined;
          if (offload) {
            const rows = await offload(sql, params)?.catch(() => undefined);
            if (rows) return rows;
          }
          const t0 = performance.now();
          const rows = direct(sql, params);
          if (rows) {
            entry.pageMs = performance.now() - t0;
            return rows;
          }
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
