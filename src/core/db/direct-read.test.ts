import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompiledQuery } from 'kysely';
import { describe, expect, it } from 'vitest';
import { openDatabase } from './database.ts';
import { directReader, offloadedReader } from './direct-read.ts';
import { ReadWorkerPool, readWorkerCount } from './read-worker.ts';
import { freshTestDatabase, testDatabaseKinds } from './test-databases.ts';

describe('direct SQLite reads', () => {
  it('read compiled SQL synchronously, binding booleans, and decline inside an open transaction', async () => {
    const d = await openDatabase('sqlite::memory:');
    try {
      await d.db.schema.createTable('t').addColumn('id', 'integer').addColumn('flag', 'boolean').execute();
      await d.db.insertInto('t').values({ id: 1, flag: true }).execute();
      const read = directReader(d.db)!;
      expect(read('select id from t where flag = ?', [true])).toEqual([{ id: 1 }]);
      let inside: unknown = 'not run';
      await d.db.transaction().execute(async (trx) => {
        await trx.insertInto('t').values({ id: 2, flag: false }).execute();
        // another flow's uncommitted row must not be visible: the reader declines
        inside = read('select id from t', []);
      });
      expect(inside).toBeUndefined();
      expect(read('select id from t order by id', [])).toEqual([{ id: 1 }, { id: 2 }]);
    } finally {
      await d.close();
    }
  });

  it('return the same rows as Kysely, column names, nulls, duplicates and all, and leave Kysely its object rows', async () => {
    const d = await openDatabase('sqlite::memory:');
    try {
      await d.db.schema.createTable('t').addColumn('id', 'integer').addColumn('name', 'text').execute();
      await d.db.insertInto('t').values([{ id: 1, name: 'a' }, { id: 2, name: null }]).execute();
      const read = directReader(d.db)!;
      const sql = 'select id, name, id as name2, name as id from t order by 1';
      const viaKysely = (await d.db.executeQuery(CompiledQuery.raw(sql, []))).rows;
      expect(read(sql, [])).toEqual(viaKysely);
      expect(read(sql, [])).toEqual([{ id: 'a', name: 'a', name2: 1 }, { id: null, name: null, name2: 2 }]);
      // the shared prepared statement is back in object mode for Kysely
      expect((await d.db.executeQuery(CompiledQuery.raw(sql, []))).rows).toEqual(viaKysely);
      expect(read('select count(*) as n from t where id > ?', [0])).toEqual([{ n: 2 }]);
    } finally {
      await d.close();
    }
  });

  it('off the event loop: same rows as the direct reader, a committed write seen by the next read, an open transaction\'s not', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strato-test-read-worker-'));
    const d = await openDatabase(join(dir, 'db.sqlite'));
    try {
      await d.db.schema.createTable('t').addColumn('id', 'integer').addColumn('name', 'text').addColumn('flag', 'boolean').execute();
      await d.db.insertInto('t').values([{ id: 1, name: 'a', flag: true }, { id: 2, name: null, flag: false }]).execute();
      const off = offloadedReader(d.db)!;
      const sql = 'select id, name, id as name2, name as id from t where flag = ? or id > ? order by 1';
      expect(await off(sql, [true, 1])).toEqual(directReader(d.db)!(sql, [true, 1]));
      await d.db.insertInto('t').values({ id: 3, name: 'c', flag: false }).execute();
      expect(await off('select id from t order by id', [])).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
      let inside: unknown;
      await d.db.transaction().execute(async (trx) => {
        await trx.insertInto('t').values({ id: 4, name: 'd', flag: false }).execute();
        inside = await off('select id from t order by id', []);
      });
      expect(inside).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
      expect(await off('select id from t order by id', [])).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }, { id: 4 }]);
      await expect(off('select nope from t', [])).rejects.toThrow(/nope/);
      // rows with a blob travel another way; they come back as the direct reader gives them
      const blobs = "select id, x'00ff' as b, 1.5 as f from t where id < 3 order by id";
      expect(await off(blobs, [])).toEqual(directReader(d.db)!(blobs, []));
      expect(Buffer.isBuffer((await off(blobs, [])!)[0].b)).toBe(true);
      const memory = await openDatabase('sqlite::memory:');
      expect(offloadedReader(memory.db)).toBeUndefined();
      await memory.close();
    } finally {
      await d.close();
      await rm(dir, { recursive: true, force: true });
    }
    // after close the reader declines, so a late query reads on the main thread (and fails there if closed)
    expect(offloadedReader(d.db)!('select 1', [])).toBeUndefined();
  });

  it('a pool of read threads: a short read is not queued behind a long one; one thread queues them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strato-test-read-pool-'));
    const file = join(dir, 'db.sqlite');
    const d = await openDatabase(file);
    const pools = [new ReadWorkerPool(file, 2), new ReadWorkerPool(file, 1)];
    try {
      await d.db.schema.createTable('t').addColumn('id', 'integer').execute();
      await d.db.insertInto('t').values({ id: 1 }).execute();
      const long = 'with recursive n(i) as (select 1 union all select i + 1 from n where i < 3000000) select count(*) as c from n';
      const order = async (pool: ReadWorkerPool) => {
        await pool.read('select id from t', []); // started
        const done: string[] = [];
        await Promise.all([pool.read(long, [])!.then(() => done.push('long')), pool.read('select id from t', [])!.then(() => done.push('short'))]);
        return done;
      };
      expect(await order(pools[0])).toEqual(['short', 'long']);
      expect(await order(pools[1])).toEqual(['long', 'short']);
      expect(readWorkerCount({})).toBe(2);
      expect(readWorkerCount({ STRATO_DB_READ_WORKERS: '3' })).toBe(3);
      expect(readWorkerCount({ STRATO_DB_READ_WORKERS: 'x' })).toBe(2);
    } finally {
      await Promise.all(pools.map((p) => p.close()));
      await d.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.runIf(testDatabaseKinds().includes('mysql'))('are not offered for MariaDB, which goes through Kysely', async () => {
    const t = await freshTestDatabase('mysql');
    try {
      expect(directReader(t.db)).toBeUndefined();
    } finally {
      await t.drop();
    }
  });
});
