import { CompiledQuery } from 'kysely';
import { describe, expect, it } from 'vitest';
import { openDatabase } from './database.ts';
import { directReader } from './direct-read.ts';
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

  it.runIf(testDatabaseKinds().includes('mysql'))('are not offered for MariaDB, which goes through Kysely', async () => {
    const t = await freshTestDatabase('mysql');
    try {
      expect(directReader(t.db)).toBeUndefined();
    } finally {
      await t.drop();
    }
  });
});
