import type { Pool, PoolConnection } from 'mysql2';
import { MYSQL_SCHEMA_CASCADES_SQL, WriteCounter, writeTarget } from './write-epochs.ts';

/**
 * Write epochs for MariaDB: query totals and the read cache. Every connection of this node's pool
 * reports what its statements may change: a statement outside a transaction once it has run, a
 * transaction's statements when its COMMIT has run (a ROLLBACK changes nothing others could see). A
 * value read on another connection while a transaction is open reads what was committed before it, so
 * it is kept under the epoch from before that COMMIT and is not reused after it.
 *
 * Other management nodes (and anyone else) write unseen: each use has a policy saying when that may be
 * ignored (the node is alone on the ring) and for how long (`maxAgeMs`). While it allows reuse the
 * epoch carries the current `maxAgeMs` time bucket, so a value is reused for at most that long; else a
 * total is counted on every read (exact across nodes, as before) and the read cache loads every time.
 */
export interface TotalsReusePolicy {
  allowed(): boolean;
  maxAgeMs(): number;
}

/** The same shape of policy, for the read cache (`read-cache.ts`). */
export type ReadCacheReusePolicy = TotalsReusePolicy;

const NEVER: TotalsReusePolicy = { allowed: () => false, maxAgeMs: () => 0 };

/** The time bucket a policy lets values live in, or undefined when it allows no reuse now. */
function windowOf(policy: TotalsReusePolicy): string | undefined {
  if (!policy.allowed()) return undefined;
  const maxAge = policy.maxAgeMs();
  return maxAge > 0 ? `t${Math.floor(Date.now() / maxAge)}` : undefined;
}

export class MysqlWriteTracking {
  #totals = NEVER;
  #cache = NEVER;
  #never = 0;
  // This node's own writes. A DELETE counts for its own table only while the schema is known to have no
  // foreign keys or triggers (which could carry it to other tables); unknown counts as having them.
  #cascades = true;
  readonly counter = new WriteCounter(() => '', () => this.#cascades);
  #pool: Pool | undefined;
  #schemaChecks = 0;
  #lastCheck: Promise<void> = Promise.resolve();

  /** When query totals may be reused. */
  setPolicy(policy: TotalsReusePolicy): void {
    this.#totals = policy;
  }

  /** When the read cache may keep rows. */
  setReadCachePolicy(policy: ReadCacheReusePolicy): void {
    this.#cache = policy;
  }

  /** A query total's epoch: a fresh one on every call while reuse is not allowed. */
  totalsEpoch(table: string): string {
    return `${this.counter.epoch(table)}${windowOf(this.#totals) ?? `n${++this.#never}`}`;
  }

  /** The read cache's epoch, or undefined while it may keep nothing (then it loads every time, keeping nothing). */
  cacheEpoch(table: string): string | undefined {
    const w = windowOf(this.#cache);
    return w === undefined ? undefined : `${this.counter.epoch(table)}${w}`;
  }

  /**
   * Reads whether the schema has foreign keys or triggers. Run once the pool is open, and again after any
   * statement that may change the schema (DDL): until that answer is in, deletes count as writes to every table.
   */
  checkSchema(): Promise<void> {
    this.#lastCheck = this.#checkSchema();
    return this.#lastCheck;
  }

  /** Settles once the latest schema check has (what a caller that just ran DDL may wait for). */
  get schemaChecked(): Promise<void> {
    return this.#lastCheck;
  }

  async #checkSchema(): Promise<void> {
    const pool = this.#pool;
    if (!pool) return;
    const check = ++this.#schemaChecks;
    this.#cascades = true;
    this.counter.forgetSchema();
    try {
      const [rows] = await pool.promise().query(MYSQL_SCHEMA_CASCADES_SQL);
      const n = Number((rows as Array<{ n: unknown }>)[0]?.n);
      // a later DDL started its own check: that one decides
      if (check === this.#schemaChecks) this.#cascades = n !== 0;
    } catch {
      /* unknown: stays conservative */
    }
    this.counter.forgetSchema();
  }

  /** Wraps the pool's connections (each once) so that their statements are reported. */
  track(pool: Pool): void {
    this.#pool = pool;
    const wrapped = new WeakSet<PoolConnection>();
    const getConnection = pool.getConnection.bind(pool);
    (pool as { getConnection: Pool['getConnection'] }).getConnection = (cb) => getConnection((err, conn) => {
      if (!err && conn && !wrapped.has(conn)) {
        wrapped.add(conn);
        this.#wrap(conn);
      }
      cb(err, conn);
    });
  }

  #wrap(conn: PoolConnection): void {
    const counter = this.counter;
    let inTransaction = false;
    let pending: string[] = [];
    const query = conn.query.bind(conn) as (...args: unknown[]) => unknown;
    (conn as { query: unknown }).query = (...args: unknown[]) => {
      const sql = typeof args[0] === 'string' ? args[0] : (args[0] as { sql?: string } | undefined)?.sql ?? '';
      const head = sql.trimStart().slice(0, 20).toLowerCase();
      let after: (() => void) | undefined;
      if (/^(begin|start transaction)\b/.test(head)) {
        inTransaction = true;
        pending = [];
      } else if (/^commit\b/.test(head)) {
        const written = pending;
        after = () => written.forEach((t) => counter.bump(t));
        inTransaction = false;
        pending = [];
      } else if (/^rollback\s*$/.test(head) || /^rollback\s+work\b/.test(head)) {
        inTransaction = false;
        pending = [];
      } else {
        const target = writeTarget(sql);
        if (target !== undefined) {
          if (inTransaction) pending.push(target);
          else after = () => counter.bump(target);
        }
        // DDL and other statements of unknown effect: deletes count everywhere again until the schema is read anew
        if (target === '*') {
          const bump = after;
          after = () => {
            bump?.();
            void this.checkSchema();
          };
          this.#cascades = true;
          counter.forgetSchema();
        }
      }
      const cb = args.at(-1);
      if (after && typeof cb === 'function') {
        const done = after;
        // success or failure alike: a failed statement may still have changed rows (a COMMIT that errored is unknown)
        args[args.length - 1] = (...r: unknown[]) => {
          done();
          return (cb as (...a: unknown[]) => unknown)(...r);
        };
      } else if (after) {
        after(); // no callback: a streamed query, which Kysely uses for SELECTs only
      }
      return query(...args);
    };
  }
}

const trackings = new WeakMap<object, MysqlWriteTracking>();

/** Remembers `db`'s tracking, for `setTotalsReusePolicy`. */
export function registerMysqlWriteTracking(db: object, tracking: MysqlWriteTracking): void {
  trackings.set(db, tracking);
}

/** Settles once `db`'s latest MariaDB schema check has (immediately on SQLite, whose check is synchronous). */
export function mysqlSchemaChecked(db: object): Promise<void> {
  return trackings.get(db)?.schemaChecked ?? Promise.resolve();
}

/** When a MariaDB node may reuse query totals (see MysqlWriteTracking); nothing on SQLite, whose epochs need no policy. */
export function setTotalsReusePolicy(db: object, policy: TotalsReusePolicy): void {
  trackings.get(db)?.setPolicy(policy);
}

/** When a MariaDB node's read cache may keep rows (see MysqlWriteTracking); nothing on SQLite, whose epochs need no policy. */
export function setReadCacheReusePolicy(db: object, policy: ReadCacheReusePolicy): void {
  trackings.get(db)?.setReadCachePolicy(policy);
}
