import type { Database as BetterSqlite, Statement } from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

/**
 * What Kysely's SQLite dialect sees of better-sqlite3, with two changes made once at the driver:
 * prepared statements are cached by SQL text (Kysely prepares on every execution, and preparing
 * costs as much as running a small query), and JavaScript booleans are bound as 0/1, which
 * better-sqlite3 refuses and MariaDB accepts, so services write `true` on both.
 */
export function cachingSqliteDatabase(raw: BetterSqlite, capacity = 500): SqliteDatabase & { readNow(sql: string, params: readonly unknown[]): Record<string, unknown>[] | undefined } {
  const cache = new Map<string, SqliteStatement>();
  return {
    /** A synchronous read of compiled SQL; undefined while a transaction is open on the connection. */
    readNow(sql, params) {
      if (raw.inTransaction) return undefined;
      return this.prepare(sql).all(params) as Record<string, unknown>[];
    },
    close: () => {
      cache.clear();
      raw.close();
    },
    prepare(sql: string): SqliteStatement {
      let s = cache.get(sql);
      if (s) {
        // refresh recency: a Map iterates in insertion order, so the first key is the least recently used
        cache.delete(sql);
        cache.set(sql, s);
        return s;
      }
      s = wrap(raw.prepare(sql));
      cache.set(sql, s);
      if (cache.size > capacity) cache.delete(cache.keys().next().value as string);
      return s;
    },
  };
}

function bindable(params: readonly unknown[]): unknown[] {
  let out: unknown[] | undefined;
  for (let i = 0; i < params.length; i++) {
    if (typeof params[i] === 'boolean') {
      out ??= [...params];
      out[i] = params[i] ? 1 : 0;
    }
  }
  return (out ?? params) as unknown[];
}

function wrap(stmt: Statement): SqliteStatement {
  return {
    reader: stmt.reader,
    all: (params) => stmt.all(bindable(params)),
    run: (params) => stmt.run(bindable(params)) as any,
    iterate: (params) => stmt.iterate(bindable(params)),
  };
}
