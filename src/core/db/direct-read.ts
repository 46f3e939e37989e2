import type { Kysely } from 'kysely';
import type { InventoriesText, InventoryColumns } from './read-worker.ts';

/**
 * SQLite answers a read synchronously, but through Kysely's driver it passes several promise layers
 * (connection provider, mutex, executor), which cost more than the query itself once async context
 * tracking is on. For already-compiled SQL the hot read path asks here for a synchronous reader; it
 * exists only for SQLite and declines (undefined) while the connection is inside a transaction, so a
 * read never sees another flow's uncommitted writes; the driver's group-commit batch is the exception
 * (its writes are already done as far as SQLite is concerned: see sqlite-driver.ts).
 */
export type DirectReader = (sql: string, params: readonly unknown[]) => Record<string, unknown>[] | undefined;

const readers = new WeakMap<Kysely<any>, DirectReader>();

export function registerDirectReader(db: Kysely<any>, reader: DirectReader): void {
  readers.set(db, reader);
}

export function directReader(db: Kysely<any>): DirectReader | undefined {
  return readers.get(db);
}

/**
 * A read of compiled SQL on another thread, with its own read-only connection to the same SQLite file,
 * so that a long read (a page sorting hundreds of matches) leaves the event loop free for the other
 * requests. It sees only committed rows: a caller's own write is committed before its reply, so the
 * caller reads it back; an open transaction's or the group-commit batch's writes (whose callers are
 * still waiting) are not seen, as they are not yet done. Undefined when the database has none
 * (MariaDB, `:memory:`) or the thread failed; a rejected promise means: read on the main thread.
 */
export type OffloadedReader = (sql: string, params: readonly unknown[]) => Promise<Record<string, unknown>[]> | undefined;

const offloaded = new WeakMap<Kysely<any>, OffloadedReader>();

export function registerOffloadedReader(db: Kysely<any>, reader: OffloadedReader): void {
  offloaded.set(db, reader);
}

export function offloadedReader(db: Kysely<any>): OffloadedReader | undefined {
  return offloaded.get(db);
}

/**
 * The same read, its rows converted to inventories on the worker and returned as their JSON text: a
 * query reply then neither parses rows nor builds and serialises inventories on the event loop.
 */
export type OffloadedInventoryReader = (sql: string, params: readonly unknown[], inventory: InventoryColumns) => Promise<InventoriesText> | undefined;

const offloadedInventories = new WeakMap<Kysely<any>, OffloadedInventoryReader>();

export function registerOffloadedInventoryReader(db: Kysely<any>, reader: OffloadedInventoryReader): void {
  offloadedInventories.set(db, reader);
}

export function offloadedInventoryReader(db: Kysely<any>): OffloadedInventoryReader | undefined {
  return offloadedInventories.get(db);
}

/**
 * Whether the node's connection holds writes the worker threads cannot see yet (an open transaction,
 * the group-commit batch). A value read on a worker while this is true may miss writes that the write
 * epochs already count, so it must not be kept under those epochs.
 */
export type UnseenWrites = () => boolean;

const unseen = new WeakMap<Kysely<any>, UnseenWrites>();

export function registerUnseenWrites(db: Kysely<any>, check: UnseenWrites): void {
  unseen.set(db, check);
}

export function unseenWrites(db: Kysely<any>): UnseenWrites | undefined {
  return unseen.get(db);
}
