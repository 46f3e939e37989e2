import type { Pool, PoolConnection } from 'mysql2';
import { describe, expect, it } from 'vitest';
import { MysqlWriteTracking } from './mysql-write-tracking.ts';

/** A pool of one fake connection whose statements answer on the next turn, as mysql2's do. */
function fakePool(): { pool: Pool; run(sql: string): Promise<void> } {
  const conn = {
    query(_sql: string, _params: unknown[], cb: (err: unknown, rows: unknown) => void) {
      setImmediate(() => cb(null, []));
    },
  } as unknown as PoolConnection;
  const pool = { getConnection: (cb: (err: unknown, c: PoolConnection) => void) => cb(null, conn) } as unknown as Pool;
  return {
    pool,
    run: (sql) => new Promise((resolve) => pool.getConnection((_e, c) => (c as any).query(sql, [], () => resolve()))),
  };
}

describe('MariaDB write epochs for query totals and the read cache', () => {
  const alone = (maxAgeMs = 60_000) => ({ allowed: () => true, maxAgeMs: () => maxAgeMs });

  it('a statement outside a transaction changes its table\'s epoch once it has run; reads change nothing', async () => {
    const t = new MysqlWriteTracking();
    t.setPolicy(alone());
    const { pool, run } = fakePool();
    t.track(pool);
    const before = t.totalsEpoch('zone');
    await run('select count(*) from `zone`');
    expect(t.totalsEpoch('zone')).toBe(before);
    await run('insert into `zone` (`uuid`) values (?)');
    expect(t.totalsEpoch('zone')).not.toBe(before);
    const other = t.totalsEpoch('vm_instance');
    await run('update `zone` set `name` = ?');
    expect(t.totalsEpoch('vm_instance')).toBe(other);
  });

  it('a transaction\'s writes count at its COMMIT, not before; a rolled-back one changes nothing', async () => {
    const t = new MysqlWriteTracking();
    t.setPolicy(alone());
    const { pool, run } = fakePool();
    t.track(pool);
    const before = t.totalsEpoch('zone');
    await run('begin');
    await run('insert into `zone` (`uuid`) values (?)');
    expect(t.totalsEpoch('zone')).toBe(before); // a total counted now reads what was committed: still true then
    await run('commit');
    const committed = t.totalsEpoch('zone');
    expect(committed).not.toBe(before);
    await run('begin');
    await run('delete from `zone` where `uuid` = ?');
    await run('rollback');
    expect(t.totalsEpoch('zone')).toBe(committed);
  });

  it('without the policy\'s leave (another node on the ring) no two reads give the same epoch; with it, one per time window', () => {
    const t = new MysqlWriteTracking();
    expect(t.totalsEpoch('zone')).not.toBe(t.totalsEpoch('zone'));
    t.setPolicy(alone(60_000));
    expect(t.totalsEpoch('zone')).toBe(t.totalsEpoch('zone'));
    t.setPolicy(alone(0));
    expect(t.totalsEpoch('zone')).not.toBe(t.totalsEpoch('zone'));
  });

  it('the read cache\'s epoch is undefined (load every time) unless its own policy allows reuse, and then moves with this node\'s writes', async () => {
    const t = new MysqlWriteTracking();
    const { pool, run } = fakePool();
    t.track(pool);
    expect(t.cacheEpoch('zone')).toBeUndefined();
    t.setPolicy(alone()); // the totals' policy is not the cache's
    expect(t.cacheEpoch('zone')).toBeUndefined();
    let lone = true;
    t.setReadCachePolicy({ allowed: () => lone, maxAgeMs: () => 60_000 });
    const before = t.cacheEpoch('zone');
    expect(before).toBeDefined();
    expect(t.cacheEpoch('zone')).toBe(before);
    await run('update `zone` set `name` = ?');
    expect(t.cacheEpoch('zone')).not.toBe(before);
    lone = false; // a peer joined
    expect(t.cacheEpoch('zone')).toBeUndefined();
    t.setReadCachePolicy(alone(0));
    expect(t.cacheEpoch('zone')).toBeUndefined();
  });
});
