import { CompiledQuery, SqliteDialect, type DatabaseConnection, type Driver, type QueryResult, type SqliteDatabase } from 'kysely';

/**
 * Kysely's SQLite driver with a cheaper way to share the one connection. Kysely's own takes a mutex
 * around every query, which only matters while a transaction holds the connection across awaits (a
 * statement itself runs synchronously); with async context tracking on, that lock and its promises
 * cost about as much as a small query. Here a query runs at once unless another caller's transaction
 * is open, in which case it waits for that transaction to end, and a transaction waits for the one
 * before it: the same isolation, without a lock on the common path.
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

  constructor(private readonly db: SqliteDatabase) {}

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
    this.db.close();
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
