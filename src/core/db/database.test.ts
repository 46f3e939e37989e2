import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { createPool } from 'mysql2';
import { freshTestDatabase, testDatabaseKinds, type TestDatabase } from './test-databases.ts';
import { migrate } from './migrations.ts';
import { col } from './columns.ts';
import { DEFAULT_MYSQL_POOL_SIZE, mysqlPoolSize, openDatabase } from './database.ts';

describe.each(testDatabaseKinds())('database layer on %s', (kind) => {
  let t: TestDatabase | undefined;
  afterEach(async () => { await t?.drop(); t = undefined; });

  it('applies each migration once, in id order, and records it', async () => {
    t = await freshTestDatabase(kind);
    const order: string[] = [];
    const migrations = [
      { id: '0002-b', up: async (db: any) => { order.push('b'); await db.schema.alterTable('thing').addColumn('extra', col.name).execute(); } },
      { id: '0001-a', up: async (db: any) => { order.push('a'); await db.schema.createTable('thing').addColumn('uuid', col.uuid, (c: any) => c.primaryKey()).addColumn('flag', col.bool).execute(); } },
    ];
    expect(await migrate(t, migrations)).toEqual(['0001-a', '0002-b']);
    expect(await migrate(t, migrations)).toEqual([]);
    expect(order).toEqual(['a', 'b']);
    await t.db.insertInto('thing').values({ uuid: 'x', flag: true, extra: 'e' }).execute();
    const row = await t.db.selectFrom('thing').selectAll().executeTakeFirstOrThrow();
    expect(Number(row.flag)).toBe(1);
    expect(row.extra).toBe('e');
  });

  it('refuses two migrations with one id', async () => {
    t = await freshTestDatabase(kind);
    const m = { id: '0001-a', up: async () => {} };
    await expect(migrate(t, [m, m])).rejects.toThrow(/duplicate migration id/);
  });

  it('round-trips epoch-millisecond dates beyond 32 bits', async () => {
    t = await freshTestDatabase(kind);
    await t.db.schema.createTable('d').addColumn('at', col.date).execute();
    const now = Date.now();
    await t.db.insertInto('d').values({ at: now }).execute();
    const r = await sql<{ at: number }>`select at from d`.execute(t.db);
    expect(Number(r.rows[0].at)).toBe(now);
  });
});

describe('MariaDB pool size', () => {
  it('takes the URL first, then STRATO_DB_POOL_SIZE, then the default; refuses a non-count', () => {
    expect(mysqlPoolSize(new URL('mysql://h/db?connectionLimit=7'), { STRATO_DB_POOL_SIZE: '30' })).toBe(7);
    expect(mysqlPoolSize(new URL('mysql://h/db'), { STRATO_DB_POOL_SIZE: '30' })).toBe(30);
    expect(mysqlPoolSize(new URL('mysql://h/db'), {})).toBe(DEFAULT_MYSQL_POOL_SIZE);
    expect(() => mysqlPoolSize(new URL('mysql://h/db?connectionLimit=0'), {})).toThrow(/pool size/);
    expect(() => mysqlPoolSize(new URL('mysql://h/db'), { STRATO_DB_POOL_SIZE: 'many' })).toThrow(/pool size/);
  });
});

describe.runIf(testDatabaseKinds().includes('mysql'))('MariaDB close', () => {
  it('closes every connection, also when nothing was queried after opening', async () => {
    const name = `strato_test_close_${Date.now().toString(36)}`;
    const connectionsTo = async () => {
      const probe = await openDatabase(`mysql://root@127.0.0.1:3306/${name}`);
      try {
        const r = await sql<{ n: number }>`select count(*) as n from information_schema.processlist where db = ${name} and id <> connection_id()`.execute(probe.db);
        return Number(r.rows[0].n);
      } finally {
        await probe.close();
      }
    };
    const d = await openDatabase(`mysql://root@127.0.0.1:3306/${name}`); // its schema check holds a connection
    await d.close();
    let open = await connectionsTo();
    for (let i = 0; open > 0 && i < 50; i++) {
      await new Promise((r) => setTimeout(r, 20));
      open = await connectionsTo();
    }
    expect(open).toBe(0);
    const used = await openDatabase(`mysql://root@127.0.0.1:3306/${name}`);
    await sql`select 1`.execute(used.db);
    await used.close(); // Kysely ended the pool: closing must not fail on an ended pool
    const admin = createPool({ host: '127.0.0.1', user: 'root', connectionLimit: 1 });
    await admin.promise().query(`DROP DATABASE IF EXISTS \`${name}\``);
    await new Promise<void>((r) => admin.end(() => r()));
  });
});

describe.runIf(testDatabaseKinds().includes('mysql'))('MariaDB sessions', () => {
  let t: TestDatabase | undefined;
  afterEach(async () => { await t?.drop(); t = undefined; });

  it('sets the strict sql_mode on every pooled connection, not only the first', async () => {
    t = await freshTestDatabase('mysql');
    const db = t.db;
    // Several connections at once: each reads its own session's mode inside a transaction that holds it.
    const modes = await Promise.all([1, 2, 3, 4].map(() => db.transaction().execute(async (trx) => {
      const r = await sql<{ m: string; id: number }>`select @@SESSION.sql_mode as m, connection_id() as id, sleep(0.05) as s`.execute(trx);
      return r.rows[0];
    })));
    expect(new Set(modes.map((r) => r.id)).size).toBe(4);
    for (const r of modes) expect(r.m).toContain('STRICT_ALL_TABLES');
  });
});

// The MariaDB of this machine through its Unix socket (where it has one at Debian's path).
const MARIADB_SOCKET = '/run/mysqld/mysqld.sock';
describe.runIf(testDatabaseKinds().includes('mysql') && existsSync(MARIADB_SOCKET))('MariaDB through its Unix socket', () => {
  it('?socketPath= connects through the socket, not TCP, and the database works as over TCP', async () => {
    const name = `strato_test_sock_${Date.now().toString(36)}`;
    const d = await openDatabase(`mysql://root@ignored.invalid/${name}?socketPath=${encodeURIComponent(MARIADB_SOCKET)}`);
    try {
      await sql`create table t (id int primary key)`.execute(d.db);
      await d.db.insertInto('t').values({ id: 1 }).execute();
      expect(await d.db.selectFrom('t').selectAll().execute()).toEqual([{ id: 1 }]);
      // a socket connection has no TCP peer: MariaDB sees it as from localhost
      const r = await sql<{ h: string }>`select host as h from information_schema.processlist where id = connection_id()`.execute(d.db);
      expect(r.rows[0].h).toBe('localhost');
    } finally {
      await sql.raw(`drop database if exists \`${name}\``).execute(d.db);
      await d.close();
    }
  });
});
