import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, MysqlDialect, sql } from 'kysely';
import { createPool } from 'mysql2';
import { registerDirectReader } from './direct-read.ts';
import { registerWriteEpoch } from './write-epochs.ts';
import { SqliteSharedDialect } from './sqlite-driver.ts';
import { cachingSqliteDatabase } from './sqlite-statement-cache.ts';

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
  const driverDb = cachingSqliteDatabase(raw);
  const db = new Kysely<any>({ dialect: new SqliteSharedDialect(driverDb) });
  registerDirectReader(db, (sql, params) => driverDb.readNow(sql, params));
  registerWriteEpoch(db, (table) => driverDb.writeEpoch(table));
  return { kind: 'sqlite', url: `sqlite:${path}`, db, close: () => db.destroy() };
}

async function openMysql(url: string): Promise<Database> {
  const u = new URL(url);
  const database = decodeURIComponent(u.pathname.replace(/^\//, '')) || 'strato';
  if (!/^[A-Za-z0-9_]+$/.test(database)) throw new Error(`invalid database name: ${database}`);
  const conn = {
    host: u.hostname || '127.0.0.1',
    port: Number(u.port || 3306),
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
    connectionLimit: Number(u.searchParams.get('connectionLimit') ?? 10),
    // Booleans come back as 0/1 and bigints as numbers, as on SQLite: inventories convert by declared field type.
    supportBigNumbers: true,
    bigNumberStrings: false,
    timezone: 'Z',
  });
  const db = new Kysely<any>({ dialect: new MysqlDialect({ pool }) });
  await sql`SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'`.execute(db);
  return { kind: 'mysql', url, db, close: () => db.destroy() };
}
