import type { Kysely } from 'kysely';

/**
 * A token that changes whenever a table may have changed, so that a value computed from the table
 * (a query's total) can be reused until then; undefined when nothing may be reused. Exact on SQLite: there
 * the node's one connection sees every statement it runs, and `PRAGMA data_version` reports commits by
 * any other connection. On MariaDB other nodes write unseen: see the totals and read-cache epochs below.
 */
export type WriteEpoch = (table: string) => string | undefined;

const epochs = new WeakMap<Kysely<any>, WriteEpoch>();
const totalsEpochs = new WeakMap<Kysely<any>, WriteEpoch>();
const cacheEpochs = new WeakMap<Kysely<any>, WriteEpoch>();

export function registerWriteEpoch(db: Kysely<any>, epoch: WriteEpoch): void {
  epochs.set(db, epoch);
}

export function writeEpoch(db: Kysely<any>): WriteEpoch | undefined {
  return epochs.get(db);
}

/**
 * Epochs for query totals on MariaDB: this node's writes exactly, other nodes' within a time window, and
 * a fresh epoch on every call unless the node is alone on the ring (mysql-write-tracking.ts).
 */
export function registerTotalsEpoch(db: Kysely<any>, epoch: WriteEpoch): void {
  totalsEpochs.set(db, epoch);
}

/** The epochs a query total may be kept under: the database's write epochs, else its totals epochs. */
export function totalsEpoch(db: Kysely<any>): WriteEpoch | undefined {
  return epochs.get(db) ?? totalsEpochs.get(db);
}

/**
 * Epochs for the read cache on MariaDB. What it keeps (offerings, ranges, clusters) decides what a create
 * does and must not lag behind another node: so they are undefined (load every time) unless this node
 * is alone on the ring, and then its own writes invalidate at once and anyone else's within a time
 * window (mysql-write-tracking.ts).
 */
export function registerReadCacheEpoch(db: Kysely<any>, epoch: WriteEpoch): void {
  cacheEpochs.set(db, epoch);
}

/** The epochs the read cache keeps rows under: the database's write epochs, else its read-cache epochs. */
export function readCacheEpoch(db: Kysely<any>): WriteEpoch | undefined {
  return epochs.get(db) ?? cacheEpochs.get(db);
}

/**
 * What a statement may change: one table, every table ('*': DDL, rollbacks, WITH …), or nothing. A
 * DELETE changes its own table unless the schema has foreign keys or triggers (which may carry the change
 * to other tables): it is returned as `-table`, and `WriteCounter` decides with the schema as it is then.
 */
export function writeTarget(sql: string): string | undefined {
  const head = sql.trimStart().slice(0, 200);
  const m = /^(?:insert|replace)\s+(?:or\s+\w+\s+)?into\s+[`"]?(\w+)/i.exec(head) ?? /^update\s+(?:or\s+\w+\s+)?[`"]?(\w+)/i.exec(head);
  if (m) return m[1];
  const d = /^delete\s+from\s+[`"]?(\w+)[`"]?(?:\s|$)/i.exec(head);
  if (d) return `-${d[1]}`;
  if (/^(?:select|begin|commit|end|savepoint|release)\b/i.test(head)) return undefined;
  // WITH … (may write), ROLLBACK (undoes writes already counted), DDL, PRAGMA…
  return '*';
}

/**
 * Counts writes per table for one connection. `bump` is called with a statement's write target each
 * time it runs; `epoch(table)` combines the table's count, the count of writes to every table and the
 * external version (other connections' commits).
 */
export class WriteCounter {
  #all = 0;
  readonly #tables = new Map<string, number>();
  /** Whether the schema may carry a delete to other tables; undefined: ask again (after a '*' write, e.g. DDL). */
  #cascades: boolean | undefined;

  /**
   * `schemaCascades` says whether the schema has foreign keys or triggers; without it every DELETE
   * counts as a write to every table.
   */
  constructor(
    private readonly external: () => unknown,
    private readonly schemaCascades: () => boolean = () => true,
  ) {}

  bump(target: string | undefined): void {
    if (target === undefined) return;
    if (target.startsWith('-')) {
      this.#cascades ??= this.schemaCascades();
      target = this.#cascades ? '*' : target.slice(1);
    }
    if (target === '*') {
      this.#all++;
      this.#cascades = undefined;
    } else this.#tables.set(target, (this.#tables.get(target) ?? 0) + 1);
  }

  /** Asks `schemaCascades` again at the next DELETE (the schema may have changed). */
  forgetSchema(): void {
    this.#cascades = undefined;
  }

  epoch(table: string): string {
    return `${this.#all}.${this.#tables.get(table) ?? 0}.${String(this.external())}`;
  }
}

/** For `WriteCounter`: whether an SQLite schema has a foreign key or a trigger (either may make a delete write other tables). */
export const SQLITE_SCHEMA_CASCADES_SQL = "select count(*) as n from sqlite_master where type = 'trigger' or (type = 'table' and lower(sql) like '%references%')";

/** For `WriteCounter` on MariaDB: how many foreign keys and triggers the connection's schema has. */
export const MYSQL_SCHEMA_CASCADES_SQL = 'select (select count(*) from information_schema.referential_constraints where constraint_schema = database()) + (select count(*) from information_schema.triggers where trigger_schema = database()) as n';
