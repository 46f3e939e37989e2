import { afterEach, describe, expect, it } from 'vitest';
import { freshTestDatabase, testDatabaseKinds, type TestDatabase } from '../../core/db/index.ts';
import { l3Realizations } from './network-views.ts';

describe.each(testDatabaseKinds())('L3 realizations on %s', (kind) => {
  let d: TestDatabase;
  afterEach(async () => d?.drop());

  it('follow every change of the L3 and L2 rows they are read from (they may come from the read cache)', async () => {
    d = await freshTestDatabase(kind);
    await d.db.schema.createTable('l2_network').addColumn('uuid', 'varchar(32)', (c) => c.primaryKey()).addColumn('type', 'varchar(64)')
      .addColumn('virtualNetworkId', 'integer').addColumn('poolUuid', 'varchar(32)').addColumn('physicalInterface', 'varchar(64)').execute();
    await d.db.schema.createTable('l3_network').addColumn('uuid', 'varchar(32)', (c) => c.primaryKey()).addColumn('l2NetworkUuid', 'varchar(32)').execute();
    await d.db.insertInto('l2_network').values([
      { uuid: 'l2a', type: 'VxlanNetwork', virtualNetworkId: 100, poolUuid: 'pool', physicalInterface: null },
      { uuid: 'l2b', type: 'L2NoVlanNetwork', virtualNetworkId: null, poolUuid: null, physicalInterface: 'eth0' },
    ]).execute();
    await d.db.insertInto('l3_network').values([{ uuid: 'l3a', l2NetworkUuid: 'l2a' }, { uuid: 'l3b', l2NetworkUuid: 'l2b' }]).execute();
    const vni = async () => (await l3Realizations(d.db, ['l3a'])).get('l3a')?.virtualNetworkId;

    const both = await l3Realizations(d.db, ['l3b', 'l3a', 'l3a']);
    expect([...both.keys()].sort()).toEqual(['l3a', 'l3b']);
    expect(both.get('l3b')).toEqual({ l3NetworkUuid: 'l3b', l2NetworkUuid: 'l2b', l2Type: 'L2NoVlanNetwork', virtualNetworkId: null, poolUuid: null, physicalInterface: 'eth0' });
    expect(await vni()).toBe(100);
    expect(await vni()).toBe(100);
    await d.db.updateTable('l2_network').set({ virtualNetworkId: 200 }).where('uuid', '=', 'l2a').execute();
    expect(await vni()).toBe(200);
    await d.db.updateTable('l3_network').set({ l2NetworkUuid: 'l2b' }).where('uuid', '=', 'l3a').execute();
    expect((await l3Realizations(d.db, ['l3a'])).get('l3a')?.l2NetworkUuid).toBe('l2b');
    await d.db.deleteFrom('l3_network').where('uuid', '=', 'l3a').execute();
    expect((await l3Realizations(d.db, ['l3a', 'l3b'])).has('l3a')).toBe(false);
  });
});
