import { afterEach, describe, expect, it } from 'vitest';
import { freshTestDatabase, testDatabaseKinds, type TestDatabase } from '../../core/db/index.ts';
import { concernsSecurityGroups, type SgNic } from './rule-sets.ts';

describe.each(testDatabaseKinds())('which NICs concern security groups on %s', (kind) => {
  let d: TestDatabase;
  afterEach(async () => d?.drop());

  it('follows the SecurityGroup service being attached to and detached from an L3 network, and membership', async () => {
    d = await freshTestDatabase(kind);
    await d.db.schema.createTable('vm_nic_security_group_ref').addColumn('vmNicUuid', 'varchar(32)').addColumn('securityGroupUuid', 'varchar(32)').execute();
    await d.db.schema.createTable('network_service_l3_ref').addColumn('id', 'varchar(32)', (c) => c.primaryKey()).addColumn('l3NetworkUuid', 'varchar(32)').addColumn('networkServiceType', 'varchar(64)').execute();
    const nic = (uuid: string, l3NetworkUuid: string): SgNic => ({ uuid, l3NetworkUuid, internalName: `vnic-${uuid}`, mac: 'fa:00:00:00:00:01', ip: null });
    const nics = [nic('n1', 'l3a'), nic('n2', 'l3b')];
    expect(await concernsSecurityGroups(d.db, nics)).toBe(false);
    await d.db.insertInto('network_service_l3_ref').values({ id: 'r1', l3NetworkUuid: 'l3b', networkServiceType: 'DHCP' }).execute();
    expect(await concernsSecurityGroups(d.db, nics)).toBe(false);
    await d.db.insertInto('network_service_l3_ref').values({ id: 'r2', l3NetworkUuid: 'l3b', networkServiceType: 'SecurityGroup' }).execute();
    expect(await concernsSecurityGroups(d.db, nics)).toBe(true);
    expect(await concernsSecurityGroups(d.db, [nics[0]])).toBe(false);
    await d.db.deleteFrom('network_service_l3_ref').where('id', '=', 'r2').execute();
    expect(await concernsSecurityGroups(d.db, nics)).toBe(false);
    await d.db.insertInto('vm_nic_security_group_ref').values({ vmNicUuid: 'n1', securityGroupUuid: 'sg' }).execute();
    expect(await concernsSecurityGroups(d.db, nics)).toBe(true);
  });
});
