import { afterEach, describe, expect, it } from 'vitest';
import { freshTestDatabase, migrate, testDatabaseKinds, type TestDatabase } from '../core/db/index.ts';
import { newUuid } from '../core/util/uuid.ts';
import { Membership, membershipMigration } from './membership.ts';

describe.each(testDatabaseKinds())('membership on %s', (kind) => {
  let t: TestDatabase;
  afterEach(async () => t?.drop());

  async function setup() {
    t = await freshTestDatabase(kind);
    await migrate(t, [membershipMigration]);
    return t.db;
  }

  it('replaces the row of a previous run on the same address and port, and keeps other nodes', async () => {
    const db = await setup();
    const old = newUuid();
    const other = newUuid();
    await new Membership(db, { uuid: old, hostName: '10.0.0.1', port: 8080 }).join();
    await new Membership(db, { uuid: other, hostName: '10.0.0.2', port: 8080 }).join();
    const mine = newUuid();
    const me = new Membership(db, { uuid: mine, hostName: '10.0.0.1', port: 8080 });
    expect(await me.join()).toEqual([old]);
    expect((await me.all()).map((n) => n.uuid).sort()).toEqual([other, mine].sort());
  });

  it('replaces nothing when the port differs', async () => {
    const db = await setup();
    await new Membership(db, { uuid: newUuid(), hostName: '127.0.0.1', port: 8080 }).join();
    const me = new Membership(db, { uuid: newUuid(), hostName: '127.0.0.1', port: 8081 });
    expect(await me.join()).toEqual([]);
    expect(await me.all()).toHaveLength(2);
  });

  it('fences only peers whose heartbeat is older than the limit, never itself', async () => {
    const db = await setup();
    const stale = new Membership(db, { uuid: newUuid(), hostName: 'a', port: 1 });
    await stale.join();
    const me = new Membership(db, { uuid: newUuid(), hostName: 'b', port: 1 });
    await me.join();
    expect(await me.fenceStale(60_000)).toEqual([]);
    expect(await me.fenceStale(60_000, Date.now() + 120_000)).toHaveLength(1);
    expect(await stale.beat()).toBe(false);
    expect(await me.beat()).toBe(true);
  });
});
