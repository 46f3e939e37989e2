import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from './database.ts';
import { mysqlSchemaChecked, setReadCacheReusePolicy } from './mysql-write-tracking.ts';
import { readCache } from './read-cache.ts';
import { freshTestDatabase, testDatabaseKinds, type TestDatabase } from './test-databases.ts';

describe('read cache (SQLite write epochs)', () => {
  let d: Database;
  afterEach(async () => d?.close());

  const setup = async () => {
    d = await openDatabase('sqlite::memory:');
    await sql`create table a (uuid varchar(32) primary key, v integer)`.execute(d.db);
    await sql`create table b (uuid varchar(32) primary key, v integer)`.execute(d.db);
    await d.db.insertInto('a').values({ uuid: 'x', v: 1 }).execute();
    await d.db.insertInto('b').values({ uuid: 'y', v: 1 }).execute();
    let loads = 0;
    const read = () => readCache(d.db).get('a:x', ['a'], async () => {
      loads++;
      return d.db.selectFrom('a').select('v').where('uuid', '=', 'x').executeTakeFirst();
    });
    return { read, loads: () => loads };
  };

  it('serves a row again until its table is written: insert, update or delete', async () => {
    const { read, loads } = await setup();
    expect(await read()).toEqual({ v: 1 });
    expect(await read()).toEqual({ v: 1 });
    expect(loads()).toBe(1);
    await d.db.updateTable('a').set({ v: 2 }).where('uuid', '=', 'x').execute();
    expect(await read()).toEqual({ v: 2 });
    await d.db.insertInto('a').values({ uuid: 'z', v: 3 }).execute();
    await read();
    expect(loads()).toBe(3);
    await d.db.deleteFrom('a').where('uuid', '=', 'x').execute();
    expect(await read()).toBeUndefined();
    expect(loads()).toBe(4);
  });

  it('is not disturbed by writes to other tables, deletes included, while the schema has no foreign keys or triggers', async () => {
    const { read, loads } = await setup();
    await read();
    await d.db.updateTable('b').set({ v: 2 }).execute();
    await d.db.deleteFrom('b').where('uuid', '=', 'y').execute();
    await read();
    expect(loads()).toBe(1);
  });

  it('counts a delete as a write to every table once the schema has a trigger (it may write elsewhere)', async () => {
    const { read, loads } = await setup();
    await sql`create trigger b_del after delete on b begin update a set v = 9; end`.execute(d.db);
    await read();
    await d.db.deleteFrom('b').where('uuid', '=', 'y').execute();
    expect(await read()).toEqual({ v: 9 });
    expect(loads()).toBe(2);
  });

  it('does not keep a value when its table was written while it loaded', async () => {
    const { read, loads } = await setup();
    const cache = readCache(d.db);
    await cache.get('a:x', ['a'], async () => {
      await d.db.updateTable('a').set({ v: 5 }).execute();
      return { v: 1 };
    });
    expect(await read()).toEqual({ v: 5 });
    expect(loads()).toBe(1);
  });

  it('forgets a value after a rolled-back transaction and gives frozen values', async () => {
    const { read, loads } = await setup();
    await d.db.transaction().execute(async (tx) => {
      await tx.updateTable('b').set({ v: 7 }).execute();
    }).catch(() => {});
    const v = await read();
    expect(Object.isFrozen(v)).toBe(true);
    await expect(d.db.transaction().execute(async (tx) => {
      await tx.updateTable('b').set({ v: 8 }).execute();
      throw new Error('undo');
    })).rejects.toThrow('undo');
    await read();
    expect(loads()).toBe(2);
  });
});

describe.skipIf(!testDatabaseKinds().includes('mysql'))('read cache on MariaDB (this node\'s writes; others\' only within the policy\'s window)', () => {
  let d: TestDatabase;
  let other: Database;
  afterEach(async () => {
    await other?.close();
    await d?.drop();
  });

  it('keeps rows only while the policy allows; this node\'s writes (committed) invalidate at once, another pool\'s within the window', async () => {
    d = await freshTestDatabase('mysql');
    other = await openDatabase(d.url); // "another node": a pool this node's tracking does not see
    await sql`create table a (uuid varchar(32) primary key, v integer)`.execute(d.db);
    await d.db.insertInto('a').values({ uuid: 'x', v: 1 }).execute();
    let loads = 0;
    const read = () => readCache(d.db).get('a:x', ['a'], async () => {
      loads++;
      return d.db.selectFrom('a').select('v').where('uuid', '=', 'x').executeTakeFirst();
    });
    // no policy yet (a node sets it at start): every read loads
    await read();
    await read();
    expect(loads).toBe(2);

    let alone = true;
    let maxAgeMs = 60_000;
    setReadCacheReusePolicy(d.db, { allowed: () => alone, maxAgeMs: () => maxAgeMs });
    expect(await read()).toEqual({ v: 1 });
    expect(await read()).toEqual({ v: 1 });
    expect(loads).toBe(3);

    // this node's write outside a transaction
    await d.db.updateTable('a').set({ v: 2 }).execute();
    expect(await read()).toEqual({ v: 2 });
    // in a transaction: at its COMMIT; a rolled-back one changes nothing
    await d.db.transaction().execute(async (tx) => {
      await tx.updateTable('a').set({ v: 3 }).execute();
    });
    expect(await read()).toEqual({ v: 3 });
    const n = loads;
    await expect(d.db.transaction().execute(async (tx) => {
      await tx.updateTable('a').set({ v: 4 }).execute();
      throw new Error('undo');
    })).rejects.toThrow('undo');
    expect(await read()).toEqual({ v: 3 });
    expect(loads).toBe(n);

    // another node's write is unseen for at most the window
    await other.db.updateTable('a').set({ v: 5 }).execute();
    expect(await read()).toEqual({ v: 3 });
    maxAgeMs = 150;
    await new Promise((r) => setTimeout(r, 320));
    expect(await read()).toEqual({ v: 5 });

    // a peer on the ring: nothing kept
    alone = false;
    maxAgeMs = 60_000;
    await other.db.updateTable('a').set({ v: 6 }).execute();
    expect(await read()).toEqual({ v: 6 });
    const m = loads;
    await read();
    expect(loads).toBe(m + 1);
  });

  it('a delete from another table leaves rows kept while the schema has no foreign keys; once one is added, deletes count everywhere', async () => {
    d = await freshTestDatabase('mysql');
    await sql`create table a (uuid varchar(32) primary key, v integer)`.execute(d.db);
    await sql`create table b (uuid varchar(32) primary key, a_uuid varchar(32) null)`.execute(d.db);
    await d.db.insertInto('a').values({ uuid: 'x', v: 1 }).execute();
    setReadCacheReusePolicy(d.db, { allowed: () => true, maxAgeMs: () => 60_000 });
    let loads = 0;
    const read = () => readCache(d.db).get('a:x', ['a'], async () => {
      loads++;
      return d.db.selectFrom('a').select('v').where('uuid', '=', 'x').executeTakeFirst();
    });
    const settle = () => mysqlSchemaChecked(d.db); // the schema is read again after DDL, asynchronously
    await settle();
    await read();
    await d.db.insertInto('b').values({ uuid: 'y' }).execute();
    await d.db.deleteFrom('b').where('uuid', '=', 'y').execute();
    await read();
    expect(loads).toBe(1);

    // a foreign key b -> a with ON DELETE SET NULL: a delete from a may now write b, and one from b is counted everywhere too
    await sql`alter table b add constraint fk_b_a foreign key (a_uuid) references a (uuid) on delete set null`.execute(d.db);
    await settle();
    await read();
    const n = loads;
    await d.db.insertInto('b').values({ uuid: 'z' }).execute();
    await d.db.deleteFrom('b').where('uuid', '=', 'z').execute();
    await read();
    expect(loads).toBe(n + 1);
  });
});

