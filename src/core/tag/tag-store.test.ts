import { afterEach, describe, expect, it } from 'vitest';
import { freshTestDatabase, migrate, testDatabaseKinds, type TestDatabase } from '../db/index.ts';
import { TagStore, tagMigration } from './tag-store.ts';

describe.each(testDatabaseKinds())('tag store on %s', (kind) => {
  let t: TestDatabase | undefined;
  afterEach(async () => { await t?.drop(); t = undefined; });

  it('creates tags from an API call, finds, updates and removes them with their resource', async () => {
    t = await freshTestDatabase(kind);
    await migrate(t, [tagMigration]);
    const store = new TagStore(t.db);
    const res = 'a'.repeat(32);
    await store.createFromApi({ systemTags: ['hostname::web1', 'hostname::web1'], userTags: ['prod'] }, res, 'VmInstanceVO');
    const sys = await t.db.selectFrom('system_tag').selectAll().execute();
    expect(sys.map((r) => r.tag)).toEqual(['hostname::web1']);
    expect(Number(sys[0].inherent)).toBe(0);
    const found = await store.find(sys[0].uuid);
    expect(found?.kind).toBe('system');
    expect((await store.updateSystemTag(sys[0].uuid, 'hostname::web2')).tag).toBe('hostname::web2');
    await store.deleteForResources([res]);
    expect(await t.db.selectFrom('system_tag').selectAll().execute()).toEqual([]);
    expect(await t.db.selectFrom('user_tag').selectAll().execute()).toEqual([]);
  });

  it('reports a missing system tag on update', async () => {
    t = await freshTestDatabase(kind);
    await migrate(t, [tagMigration]);
    await expect(new TagStore(t.db).updateSystemTag('b'.repeat(32), 'x')).rejects.toMatchObject({ errorCode: { code: 'SYS.1003' } });
  });
});
