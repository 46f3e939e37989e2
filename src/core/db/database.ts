import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, MysqlDialect } from 'kysely';
import { createPool } from 'mysql2';
import { registerDirectReader, registerOffloadedInventoryReader, registerOffloadedReader, registerUnseenWrites } from './direct-read.ts';
import { ReadWorkerPool, readWorkerCount } from './read-worker.ts';
import { MysqlWriteTracking, registerMysqlWriteTracking } from './mysql-write-tracking.ts';
import { registerReadCacheEpoch, registerTotalsEpoch, registerWriteEpoch } from './write-epochs.ts';
import { SqliteSharedDialect } from './sqlite-driver.ts';
import { cachingSqliteDatabase } from './sqlite-statement-cache.ts';
import { checkpointWalInBackground } from './wal-checkpoints.ts';

export type DbKind = 'sqlite' | 'mysql';

/**
 * One open database: Kysely over SQLite (embedded default) or MariaDB (production).
 * Tables are untyped at this layer (`Kysely<any>`); each service types its own rows.
 *
 * @example
 *   const d = await openDatabase('sqlite:/var/lib/strato/strato.db');
 *   await d.db.selectFrom('zone').selectAll().execute();
 */
export interface Database {
  kind: DbKind;
  url: string;
  db: Kysely<any>;
  close(): Promise<void>;
}

/** `sqlite:<path>`, `sqlite::memory:`, a bare file path, or `mysql://user:pw@host:port/dbname`. */
export async function openDatabase(url: string): Promise<Database> {
  if (url.startsWith('mysql://') || url.startsWith('mariadb://')) return openMysql(url.replace(/^mariadb:/, 'mysql:'));
  const path = url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : url;
  return openSqlite(path);
}

function openSqlite(path: string): Database {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const raw = new SQLite(path);
  // WAL: readers never block the writer; NORMAL sync is durable across process crashes (not power loss).
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = NORMAL');
  raw.pragma('foreign_keys = ON');
  raw.pragma('busy_timeout = 5000');
  // Checkpoints on a worker thread, not inside this connection's COMMITs on the event loop (a file only).
  const checkpoints = path === ':memory:' ? undefined : checkpointWalInBackground(raw, path);
  const stopOptimizing = keepStatistics(raw);
  const driverDb = cachingSqliteDatabase(raw);
  const db = new Kysely<any>({ dialect: new SqliteSharedDialect(driverDb) });
  registerDirectReader(db, (sql, params) => driverDb.readNow(sql, params));
  registerWriteEpoch(db, (table) => driverDb.writeEpoch(table));
  // Long query pages may be read on worker threads with their own connections (a file has them; memory not).
  const readWorker = path === ':memory:' ? undefined : new ReadWorkerPool(path, readWorkerCount());
  if (readWorker) {
    registerOffloadedReader(db, (sql, params) => readWorker.read(sql, params));
    registerOffloadedInventoryReader(db, (sql, params, inventory) => readWorker.readInventories(sql, params, inventory));
  }
  registerUnseenWrites(db, () => driverDb.inTransaction);
  return {
    kind: 'sqlite',
    url: `sqlite:${path}`,
    db,
    close: async () => {
      stopOptimizing();
      await checkpoints?.close();
      await readWorker?.close();
      return db.destroy();
    },
  };
}

/**
 * Planner statistics (SQLite's recommended `PRAGMA optimize`, at open and once a minute). Without them
 * SQLite guesses that `state = ?` picks a few rows, so a query with a tag or nested condition walked
 * every Running VM in the (state, createDate) index testing each against the condition's sub-query,
 * instead of looking up the sub-query's few rows by uuid: at 100,000 VMs `__userTag__=x&state=Running`
 * with a count took 27 + 30 ms before ANALYZE, 3.4 + 0.3 ms after. `optimize` analyzes only tables
 * never analyzed or grown or shrunk tenfold since, and `analysis_limit` samples instead of reading
 * whole indexes (≈ 0.2 s for every table at 100,000 VMs, once per tenfold growth).
 */
function keepStatistics(raw: SQLite.Database): () => void {
  raw.pragma('analysis_limit = 1000');
  const optimize = () => {
    try {
      raw.pragma('optimize = 0x10002');
    } catch {
      // statistics are an optimization: a busy or closing database skips this round
    }
  };
  optimize();
  const timer = setInterval(optimize, 60_000);
  timer.unref();
  return () => clearInterval(timer);
}

/** The MariaDB pool's size when neither the URL (`?connectionLimit=N`) nor STRATO_DB_POOL_SIZE gives one. */
export const DEFAULT_MYSQL_POOL_SIZE = 10;

/**
 * How many connections a node keeps to MariaDB: `?connectionLimit=N` in the URL, else the
 * STRATO_DB_POOL_SIZE environment variable, else DEFAULT_MYSQL_POOL_SIZE.
 */
export function mysqlPoolSize(u: URL, env: NodeJS.ProcessEnv = process.env): number {
  const given = u.searchParams.get('connectionLimit') ?? env.STRATO_DB_POOL_SIZE;
  if (given === undefined || given === '') return DEFAULT_MYSQL_POOL_SIZE;
  const n = Number(given);
  if (!Number.isInteger(n) || n < 1) throw new Error(`invalid MariaDB pool size: ${given} (a whole number of connections, at least 1)`);
  return n;
}

async function openMysql(url: string): Promise<Database> {
  const u = new URL(url);
  const database = decodeURIComponent(u.pathname.replace(/^\//, '')) || 'strato';
  if (!/^[A-Za-z0-9_]+$/.test(database)) throw new Error(`invalid database name: ${database}`);
  // `?socketPath=/run/mysqld/mysqld.sock`: a MariaDB on this machine through its Unix socket instead of TCP
  // (each statement's round trip then skips the loopback TCP stack).
  const socketPath = u.searchParams.get('socketPath') ?? undefined;
  const conn = {
    ...(socketPath ? { socketPath } : { host: u.hostname || '127.0.0.1', port: Number(u.port || 3306) }),
    user: decodeURIComponent(u.username || 'root'),
    password: decodeURIComponent(u.password || ''),
  };
  // Create the database if missing, through a short-lived pool without a default schema.
  const bootstrap = createPool({ ...conn, connectionLimit: 1 });
  await bootstrap.promise().query(`CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  await new Promise<void>((resolve) => bootstrap.end(() => resolve()));
  const pool = createPool({
    ...conn,
    database,
    connectionLimit: mysqlPoolSize(u),
    // Booleans come back as 0/1 and bigints as numbers, as on SQLite: inventories convert by declared field type.
    supportBigNumbers: true,
    bigNumberStrings: false,
    timezone: 'Z',
  });
  // Session settings belong to each connection: queued on a new one before any caller's statement.
  // A connection that cannot take the mode is dropped rather than used with a laxer one.
  pool.on('connection', (c) => {
    c.query(`SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'`, (err: unknown) => {
      if (err) c.destroy();
    });
  });
  // Query totals and read-cache rows may be kept while this node's own writes leave a table alone (and the
  // node says when, and for how long, others' may be ignored).
  const tracking = new MysqlWriteTracking();
  tracking.track(pool);
  await tracking.checkSchema();
  const db = new Kysely<any>({ dialect: new MysqlDialect({ pool }) });
  registerTotalsEpoch(db, (table) => tracking.totalsEpoch(table));
  registerReadCacheEpoch(db, (table) => tracking.cacheEpoch(table));
  registerMysqlWriteTracking(db, tracking);
  // Kysely ends the pool only once it has used it; the schema check above used it already, so a database
  // closed before any query (a command that only opened it) must end the pool itself, or its connection
  // keeps the process alive.
  const close = async () => {
    await db.destroy();
    if (!(pool as { _closed?: boolean })._closed) await new Promise<void>((resolve) => pool.end(() => resolve()));
  };
  return { kind: 'mysql', url, db, close };
}
