import { afterEach, describe, expect, it, vi } from 'vitest';
import { rowByKey, rowsByKey, rowsOfText } from './rows-by-key.ts';
import { freshTestDatabase, testDatabaseKinds, type TestDatabase } from './test-databases.ts';

describe.each(testDatabaseKinds())('rows by key on %s', (kind) => {
  let d: TestDatabase;
  afterEach(async () => d?.drop());

  const setup = async () => {
    d = await freshTestDatabase(kind);
    await d.db.schema.createTable('t').addColumn('uuid', 'varchar(32)', (c) => c.primaryKey()).addColumn('grp', 'varchar(32)').addColumn('n', 'integer').execute();
    await d.db.insertInto('t').values([{ uuid: 'a', grp: 'g', n: 1 }, { uuid: 'b', grp: 'g', n: 2 }]).execute();
  };

  it('reads every column or the named ones, one row or all that match, and nothing for an unknown key', async () => {
    await setup();
    expect(await rowByKey(d.db, 't', '*', 'uuid', 'a')).toEqual({ uuid: 'a', grp: 'g', n: 1 });
    expect(await rowByKey(d.db, 't', ['n'], 'uuid', 'b')).toEqual({ n: 2 });
    expect((await rowsByKey(d.db, 't', ['uuid'], 'grp', 'g')).map((r) => r.uuid).sort()).toEqual(['a', 'b']);
    expect(await rowByKey(d.db, 't', '*', 'uuid', 'nope')).toBeUndefined();
    await d.db.insertInto('t').values({ uuid: 'c', grp: 'g', n: 0 }).execute();
    expect((await rowsByKey(d.db, 't', ['uuid'], 'grp', 'g', 'n')).map((r) => r.uuid)).toEqual(['c', 'a', 'b']);
    expect(await rowsOfText(d.db, 'select x.`uuid`, y.`n` from `t` as x inner join `t` as y on y.`grp` = x.`grp` where x.`uuid` = ? and y.`n` > ? order by y.`n`', ['a', 0])).toEqual([{ uuid: 'a', n: 1 }, { uuid: 'a', n: 2 }]);
  });

  it('sees the latest committed write, and inside a transaction that transaction\'s own writes', async () => {
    await setup();
    await d.db.updateTable('t').set({ n: 5 }).where('uuid', '=', 'a').execute();
    expect(await rowByKey(d.db, 't', ['n'], 'uuid', 'a')).toEqual({ n: 5 });
    await d.db.transaction().execute(async (trx) => {
      await trx.insertInto('t').values({ uuid: 'c', grp: 'h', n: 3 }).execute();
      expect(await rowByKey(trx, 't', ['n'], 'uuid', 'c')).toEqual({ n: 3 });
    });
    expect(await rowByKey(d.db, 't', ['n'], 'uuid', 'c')).toEqual({ n: 3 });
  });

  it('reads SQLite synchronously when the connection is free, through the executor otherwise', async () => {
    await setup();
    const executed = vi.spyOn(d.db, 'executeQuery');
    await rowByKey(d.db, 't', '*', 'uuid', 'a');
    expect(executed).toHaveBeenCalledTimes(kind === 'sqlite' ? 0 : 1);
    executed.mockRestore();
  });
});
