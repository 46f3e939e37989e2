import { CompiledQuery, SqliteDialect, type DatabaseConnection, type Driver, type QueryResult, type SqliteDatabase } from 'kysely';

/** What the driver needs beyond Kysely's view of better-sqlite3 to batch commits (the caching database provides it). */
export interface GroupCommitHost {
  /** Whether the connection is inside a transaction (SQLite may roll one back by itself on an I/O error). */
  readonly inTransaction: boolean;
  /** Told when a batch transaction opens and ends, so synchronous reads may go on during it. */
  setGroupOpen(open: boolean): void;
}

/** Writes that join a batch: plain data changes, not DDL or anything else that may not belong in one. */
const GROUPABLE = /^\s*(?:insert|update|delete|replace)\b/i;

interface GroupWaiter {
  resolve(): void;
  reject(e: unknown): void;
}

/**
 * Kysely's SQLite driver with a cheaper way to share the one connection. Kysely's own takes a mutex
 * around every query, which only matters while a transaction holds the connection across awaits (a
 * statement itself runs synchronously); with async context tracking on, that lock and its promises
 * cost about as much as a small query. Here a query runs at once unless another caller's transaction
 * is open, in which case it waits for that transaction to end, and a transaction waits for the one
 * before it: the same isolation, without a lock on the common path.
 *
 * Group commit: a write outside any transaction (INSERT, UPDATE, DELETE) runs at once, but inside a
 * transaction the driver opens for every such write of the same event-loop turn and commits on the
 * next turn (`setImmediate`); each caller's promise settles only after that COMMIT, so a write reported
 * done is as durable as before. A commit costs far more than a statement (measured here: a write in
 * its own transaction 45-53 µs of CPU, inside a shared one 14 µs) and a VM create makes about 17 such
 * writes. A statement that fails (a constraint) is undone alone by SQLite and fails only its caller.
 * Other callers may read a batched write before its COMMIT; a COMMIT fails only on an I/O error, and
 * then every write of the batch fails. An explicit transaction commits the open batch before it begins.
 */
export class SqliteSharedDialect extends SqliteDialect {
  readonly #database: SqliteDatabase;

  constructor(database: SqliteDatabase) {
    super({ database });
    this.#database = database;
  }

  override createDriver(): Driver {
    return new SqliteSharedDriver(this.#database);
  }
}

class SqliteSharedDriver implements Driver {
  /** The handle whose transaction is open, if any. */
  #owner: Handle | undefined;
  /** Resolved when the open transaction ends. */
  #ended: Promise<void> | undefined;
  #endNow: (() => void) | undefined;
  /** Idle handles, reused so that Kysely sees few distinct connection objects. */
  readonly #free: Handle[] = [];
  /** Callers whose writes are in the open batch transaction (undefined: none open). */
  #group: GroupWaiter[] | undefined;
  readonly #host: GroupCommitHost | undefined;

  constructor(private readonly db: SqliteDatabase) {
    const h = db as SqliteDatabase & Partial<GroupCommitHost>;
    this.#host = typeof h.setGroupOpen === 'function' ? (h as unknown as GroupCommitHost) : undefined;
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    return this.#free.pop() ?? new Handle(this.db, this);
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    if (this.#free.length < 64) this.#free.push(connection as Handle);
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    // Checked again after every wake-up: another transaction may have begun in between.
    while (this.#owner && this.#owner !== connection) await this.#ended;
    this.flushGroup();
    this.#owner = connection as Handle;
    this.#ended = new Promise((resolve) => (this.#endNow = resolve));
    try {
      await connection.executeQuery(CompiledQuery.raw('begin'));
    } catch (e) {
      this.#end();
      throw e;
    }
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    // Ends only when the COMMIT succeeded. A failed COMMIT may leave the transaction open (SQLITE_BUSY):
    // other callers keep waiting until the rollback Kysely always sends after a failed commit ends it
    // (in its own finally); otherwise their writes would join this transaction and be undone with it.
    await connection.executeQuery(CompiledQuery.raw('commit'));
    this.#end();
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await connection.executeQuery(CompiledQuery.raw('rollback'));
    } finally {
      this.#end();
    }
  }

  async destroy(): Promise<void> {
    this.flushGroup();
    this.db.close();
  }

  /** Whether this write may join a batch: group commit is on and no explicit transaction is open. */
  groupable(sql: string): boolean {
    return this.#host !== undefined && this.#owner === undefined && GROUPABLE.test(sql);
  }

  /** Runs `write` inside the batch transaction (opening it); settles after the batch's COMMIT. */
  inGroup<R>(write: () => QueryResult<R>): Promise<QueryResult<R>> {
    if (!this.#group) {
      this.db.prepare('begin').run([]);
      this.#group = [];
      this.#host!.setGroupOpen(true);
      setImmediate(() => this.flushGroup());
    }
    let result: QueryResult<R>;
    try {
      result = write();
    } catch (e) {
      // SQLite undid the statement alone, unless an I/O error made it roll the whole transaction back.
      if (!this.#host!.inTransaction) this.#failGroup(e);
      return Promise.reject(e);
    }
    const group = this.#group!;
    return new Promise((resolve, reject) => group.push({ resolve: () => resolve(result), reject }));
  }

  /** Commits the open batch (if any) now and settles its callers. */
  flushGroup(): void {
    const group = this.#group;
    if (!group) return;
    this.#group = undefined;
    this.#host!.setGroupOpen(false);
    try {
      this.db.prepare('commit').run([]);
    } catch (e) {
      try {
        if (this.#host!.inTransaction) this.db.prepare('rollback').run([]);
      } catch {
        // the original error is what the callers get
      }
      for (const w of group) w.reject(e);
      return;
    }
    for (const w of group) w.resolve();
  }

  #failGroup(e: unknown): void {
    const group = this.#group ?? [];
    this.#group = undefined;
    this.#host!.setGroupOpen(false);
    for (const w of group) w.reject(e);
  }

  /** Resolves when the open transaction ends (at once when none is open). */
  ended(): Promise<void> {
    return this.#ended ?? Promise.resolve();
  }

  get busy(): Handle | undefined {
    return this.#owner;
  }

  #end(): void {
    const wake = this.#endNow;
    this.#owner = undefined;
    this.#ended = undefined;
    this.#endNow = undefined;
    wake?.();
  }
}

class Handle implements DatabaseConnection {
  constructor(
    private readonly db: SqliteDatabase,
    private readonly driver: SqliteSharedDriver,
  ) {}

  executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const owner = this.driver.busy;
    // Another caller's transaction is open: run after it, checking again then (the next may have begun).
    if (owner && owner !== this) return this.driver.ended().then(() => this.executeQuery<R>(compiledQuery));
    if (this.driver.groupable(compiledQuery.sql)) return this.driver.inGroup(() => this.#run<R>(compiledQuery));
    try {
      return Promise.resolve(this.#run<R>(compiledQuery));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #run<R>(compiledQuery: CompiledQuery): QueryResult<R> {
    const { sql, parameters } = compiledQuery;
    const stmt = this.db.prepare(sql);
    if (stmt.reader) return { rows: stmt.all(parameters) as R[] };
    const { changes, lastInsertRowid } = stmt.run(parameters);
    return {
      numAffectedRows: changes !== undefined && changes !== null ? BigInt(changes) : undefined,
      insertId: lastInsertRowid !== undefined && lastInsertRowid !== null ? BigInt(lastInsertRowid) : undefined,
      rows: [],
    };
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming is not supported on SQLite here; page with limit/offset');
  }
}
