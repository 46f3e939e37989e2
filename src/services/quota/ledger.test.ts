import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { migrate, openDatabase, type Database } from '../../core/db/index.ts';
import { QuotaLedger } from './ledger.ts';
import { quotaMigration } from './schema.ts';

describe('QuotaLedger', () => {
  let database: Database;
  afterEach(async () => database?.close());

  const ledgerOn = async () => {
    database = await openDatabase('sqlite::memory:');
    await migrate(database, [quotaMigration]);
    return new QuotaLedger(database.db, { 'vm.num': { get: () => 10 } as never });
  };
  const used = async () => Number((await database.db.selectFrom('quota_usage').select('used').where('accountUuid', '=', 'acc').executeTakeFirst())?.used ?? 0);

  it('charges a resource once, and a charge row that will not insert for another reason fails the reservation', async () => {
    const ledger = await ledgerOn();
    const c = { resourceUuid: 'vm-1', name: 'vm.num', amount: 1 };
    expect(await ledger.reserve('acc', [c])).toEqual([c]);
    expect(await ledger.reserve('acc', [c])).toEqual([]); // already charged
    expect(await used()).toBe(1);
    // A lock timeout or deadlock is not "already charged": the create must not go through uncharged.
    await sql`CREATE TRIGGER refuse_charge BEFORE INSERT ON quota_charge BEGIN SELECT RAISE(ABORT, 'database is locked'); END`.execute(database.db);
    await expect(ledger.reserve('acc', [{ ...c, resourceUuid: 'vm-2' }])).rejects.toThrow(/locked/);
    await expect(ledger.add('acc', { ...c, resourceUuid: 'vm-3' })).rejects.toThrow(/locked/);
    expect(await used()).toBe(1);
  });
});
