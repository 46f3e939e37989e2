import type { Kysely } from 'kysely';
import { readCacheEpoch, type WriteEpoch } from './write-epochs.ts';

/** Entries kept at once per database; the least recently stored goes first. */
const CAPACITY = 10_000;

/**
 * Reads of rows that almost never change (an image, an offering, an L3 network, which clusters can take
 * a VM), kept until this node writes to one of the tables they came from. Each entry carries the write
 * epochs of its tables as they were before its load began (`write-epochs.ts`), so a write to any of
 * them, even one made while the load ran, makes the entry stale, and so do other connections' commits
 * (SQLite's `data_version`). On MariaDB other nodes write unseen: rows are kept only while this node is
 * alone on the ring, and then for at most `db.readCache.maxAgeMs`; otherwise every read loads afresh.
 *
 * A cached value is shared by every caller: treat it as read-only (arrays and rows are frozen).
 * `tables` must name every table the load reads; `key` must tell apart every distinct load.
 *
 * @example
 *   const image = await readCache(db).get(`image:${uuid}`, ['image'], () =>
 *     db.selectFrom('image').select(['uuid', 'state']).where('uuid', '=', uuid).executeTakeFirst());
 */
export interface ReadCache {
  get<T>(key: string, tables: readonly string[], load: () => Promise<T>): Promise<T>;
}

const caches = new WeakMap<Kysely<any>, ReadCache>();

/** The read cache of `db` (one per database; a pass-through where the database has no epochs for it). */
export function readCache(db: Kysely<any>): ReadCache {
  let c = caches.get(db);
  if (!c) {
    const epoch = readCacheEpoch(db);
    c = epoch ? new EpochReadCache(epoch) : passThrough;
    caches.set(db, c);
  }
  return c;
}

const passThrough: ReadCache = { get: (_key, _tables, load) => load() };

interface Entry {
  stamp: string;
  value: unknown;
}

export class EpochReadCache implements ReadCache {
  readonly #entries = new Map<string, Entry>();

  constructor(
    private readonly epoch: WriteEpoch,
    private readonly capacity = CAPACITY,
  ) {}

  async get<T>(key: string, tables: readonly string[], load: () => Promise<T>): Promise<T> {
    const stamp = this.#stamp(tables);
    if (stamp === undefined) return load();
    const e = this.#entries.get(key);
    if (e && e.stamp === stamp) return e.value as T;
    // Stamped before the load: a write to these tables while it runs leaves the entry stale at once.
    const value = freeze(await load());
    this.#entries.delete(key);
    this.#entries.set(key, { stamp, value });
    if (this.#entries.size > this.capacity) this.#entries.delete(this.#entries.keys().next().value as string);
    return value;
  }

  #stamp(tables: readonly string[]): string | undefined {
    let s = '';
    for (const t of tables) {
      const e = this.epoch(t);
      if (e === undefined) return undefined;
      s += `${e}|`;
    }
    return s;
  }
}

function freeze<T>(v: T): T {
  if (Array.isArray(v)) {
    for (const x of v) if (x && typeof x === 'object') Object.freeze(x);
    return Object.freeze(v) as T;
  }
  if (v && typeof v === 'object') Object.freeze(v);
  return v;
}
