import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from './database.ts';
import { readCache } from './read-cache.ts';

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
