import type { Kysely } from 'kysely';

/**
 * A token that changes whenever a table may have changed, so that a value computed from the table
 * (a query's total) can be reused until then. Only SQLite provides it: there the node's one connection
 * sees every statement it runs, and `PRAGMA data_version` reports commits by any other connection. On
 * MariaDB other nodes write unseen, so there is none and nothing is reused.
 */
export type WriteEpoch = (table: string) => string | undefined;

const epochs = new WeakMap<Kysely<any>, WriteEpoch>();

export function registerWriteEpoch(db: Kysely<any>, epoch: WriteEpoch): void {
  epochs.set(db, epoch);
}

export function writeEpoch(db: Kysely<any>): WriteEpoch | undefined {
  return epochs.get(db);
}

/** What a statement may change: one table, every table ('*': deletes may cascade, DDL, rollbacks), or nothing. */
export function writeTarget(sql: string): string | undefined {
  const head = sql.trimStart().slice(0, 200);
  const m = /^(?:insert|replace)\s+(?:or\s+\w+\s+)?into\s+[`"]?(\w+)/i.exec(head) ?? /^update\s+(?:or\s+\w+\s+)?[`"]?(\w+)/i.exec(head);
  if (m) return m[1];
  if (/^(?:select|begin|commit|end|savepoint|release)\b/i.test(head)) return undefined;
  // WITH … (may write), DELETE (foreign keys may cascade), ROLLBACK (undoes writes already counted), DDL, PRAGMA…
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

  constructor(private readonly external: () => unknown) {}

  bump(target: string | undefined): void {
    if (target === undefined) return;
    if (target === '*') this.#all++;
    else this.#tables.set(target, (this.#tables.get(target) ?? 0) + 1);
  }

  epoch(table: string): string {
    return `${this.#all}.${this.#tables.get(table) ?? 0}.${String(this.external())}`;
  }
}
