import { randomBytes } from 'node:crypto';
import { createPool } from 'mysql2';
import { openDatabase, type Database } from './database.ts';

/**
 * The databases every database test runs on: SQLite always, MariaDB unless STRATO_TEST_MYSQL=off.
 * Each call gives a fresh, empty database; `drop()` removes it.
 *
 * @example
 *   describe.each(testDatabaseKinds())('zones on %s', (kind) => { let t; beforeEach(async () => { t = await freshTestDatabase(kind) }); ... })
 */
export function testDatabaseKinds(): Array<'sqlite' | 'mysql'> {
  return process.env.STRATO_TEST_MYSQL === 'off' ? ['sqlite'] : ['sqlite', 'mysql'];
}

export const TEST_MYSQL_URL = process.env.STRATO_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';

export interface TestDatabase extends Database {
  /** The URL another process can open to reach the same database. */
  url: string;
  drop(): Promise<void>;
}

export async function freshTestDatabase(kind: 'sqlite' | 'mysql', dir?: string): Promise<TestDatabase> {
  const tag = `${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;
  if (kind === 'sqlite') {
    const path = dir ? `${dir}/strato-test-${tag}.db` : ':memory:';
    const d = await openDatabase(`sqlite:${path}`);
    return { ...d, drop: async () => { await d.close(); if (dir) await removeSqliteFiles(path); } };
  }
  const name = `strato_test_${tag}`;
  const d = await openDatabase(`${TEST_MYSQL_URL}/${name}`);
  return {
    ...d,
    drop: async () => {
      await d.close();
      const u = new URL(TEST_MYSQL_URL);
      const pool = createPool({ host: u.hostname, port: Number(u.port || 3306), user: u.username || 'root', password: u.password, connectionLimit: 1 });
      await pool.promise().query(`DROP DATABASE IF EXISTS \`${name}\``);
      await new Promise<void>((r) => pool.end(() => r()));
    },
  };
}

async function removeSqliteFiles(path: string): Promise<void> {
  const { rm } = await import('node:fs/promises');
  await Promise.all(['', '-wal', '-shm'].map((s) => rm(path + s, { force: true })));
}
