import type { Pool, PoolConnection } from 'mysql2';
import { WriteCounter, writeTarget } from './write-epochs.ts';

/**
 * Write epochs for MariaDB query totals. Every connection of this node's pool reports what its
 * statements may change: a statement outside a transaction once it has run, a transaction's statements
 * when its COMMIT has run (a ROLLBACK changes nothing others could see). A total counted on another
 * connection while a transaction is open reads what was committed before it, so it is kept under the
 * epoch from before that COMMIT and is not reused after it.
 *
 * Other management nodes (and anyone else) write unseen: the counter's external part is the window
 * `policy` allows. While it says reuse is allowed (the node is alone on the ring), the part is the
 * current `maxAgeMs` time bucket, so a total is reused for at most that long; otherwise it changes on
 * every read and nothing is reused (totals exact across nodes, as before).
 */
export interface TotalsReusePolicy {
  allowed(): boolean;
  maxAgeMs(): number;
}

export class MysqlWriteTracking {
  #policy: TotalsReusePolicy = { allowed: () => false, maxAgeMs: () => 0 };
  #never = 0;
  // DELETEs count as writes to every table: MariaDB's schema may carry them along foreign keys.
  readonly counter = new WriteCounter(() => this.#external(), () => true);

  setPolicy(policy: TotalsReusePolicy): void {
    this.#policy = policy;
  }

  #external(): string {
    const maxAge = this.#policy.allowed() ? this.#policy.maxAgeMs() : 0;
    return maxAge > 0 ? `t${Math.floor(Date.now() / maxAge)}` : `n${++this.#never}`;
  }

  /** Wraps the pool's connections (each once) so that their statements are reported. */
  track(pool: Pool): void {
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

/** When a MariaDB node may reuse query totals (see MysqlWriteTracking); nothing on SQLite, whose epochs need no policy. */
export function setTotalsReusePolicy(db: object, policy: TotalsReusePolicy): void {
  trackings.get(db)?.setPolicy(policy);
}
