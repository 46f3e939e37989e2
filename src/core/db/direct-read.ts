import type { Kysely } from 'kysely';

/**
 * SQLite answers a read synchronously, but through Kysely's driver it passes several promise layers
 * (connection provider, mutex, executor), which cost more than the query itself once async context
 * tracking is on. For already-compiled SQL the hot read path asks here for a synchronous reader; it
 * exists only for SQLite and declines (undefined) while the connection is inside a transaction, so a
 * read never sees another flow's uncommitted writes.
 */
export type DirectReader = (sql: string, params: readonly unknown[]) => Record<string, unknown>[] | undefined;

const readers = new WeakMap<Kysely<any>, DirectReader>();

export function registerDirectReader(db: Kysely<any>, reader: DirectReader): void {
  readers.set(db, reader);
}

export function directReader(db: Kysely<any>): DirectReader | undefined {
  return readers.get(db);
}
