import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, readCache, testDatabaseKinds, type Database } from '../src/core/db/index.ts';
import { ManagementNode } from '../src/node/management-node.ts';
import { createZone } from './support/integration.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';

/**
 * Query totals on MariaDB (`replyWithCount`) are counted again after this node's own writes to their
 * tables, and reused (at most `query.totals.maxAgeMs`) only while the node is alone on the ring: a second
 * node makes every total exact again from the moment it has joined. The read cache follows the same rule
 * (`db.readCache.maxAgeMs`). Writes "by another node" are made
 * here through a second connection pool the node does not see.
 */
describe.skipIf(!testDatabaseKinds().includes('mysql'))('query totals and the read cache on MariaDB', () => {
  let t: TestNode;
  let c: TestClient;
  let other: Database;
  let b: ManagementNode | undefined;
  const total = async () => (await c.call('GET', '/zones?replyWithCount=true&limit=1')).total as number;
  const setMaxAge = (ms: number) => c.call('PUT', '/global-configurations/query/totals.maxAgeMs/actions', { updateGlobalConfig: { value: String(ms) } });

  beforeAll(async () => {
    t = await startTestNode('mysql');
    c = await t.login();
    other = await openDatabase(t.db.url);
  });
  afterAll(async () => {
    await b?.stop();
    await other?.close();
    await t?.stop();
  });

  it('a lone node reuses a total until its own write, for at most the configured time; another node makes totals exact at once', async () => {
    await setMaxAge(60_000);
    const zones = [];
    for (const n of ['tz1', 'tz2', 'tz3', 'tz4']) zones.push(await createZone(c, n));
    expect(await total()).toBe(4);
    expect(await total()).toBe(4);
    // a write this node cannot see: the total it keeps is the one it counted (for up to 60 s here)
    await other.db.deleteFrom('zone').where('uuid', '=', zones[3].uuid).execute();
    expect(await total()).toBe(4);
    // its own write to the table: counted again
    await c.call('DELETE', `/zones/${zones[2].uuid}`);
    expect(await total()).toBe(2);
    // with the time window at 0, nothing is kept
    await setMaxAge(0);
    await other.db.deleteFrom('zone').where('uuid', '=', zones[1].uuid).execute();
    expect(await total()).toBe(1);
    await setMaxAge(60_000);
    expect(await total()).toBe(1);

    // ten clients asking at once for a total gone stale wait for one count
    await createZone(c, 'tz5');
    const db = t.node.ctx.db as unknown as { executeQuery: (q: { sql: string }) => Promise<unknown> };
    const execute = db.executeQuery.bind(db);
    let counts = 0;
    db.executeQuery = async (q) => {
      if (/^select count/i.test(q.sql)) {
        counts++;
        await new Promise((r) => setTimeout(r, 300)); // a count over many rows: the other nine arrive meanwhile
      }
      return execute(q);
    };
    try {
      expect(await Promise.all(Array.from({ length: 10 }, () => total()))).toEqual(Array(10).fill(2));
    } finally {
      db.executeQuery = execute;
    }
    expect(counts).toBe(1);
    await c.call('DELETE', `/zones/${(await c.call('GET', '/zones?q=name=tz5')).inventories[0].uuid}`);

    // the read cache (offerings, L3s, … on a create's path) keeps rows too while the node is alone
    let loads = 0;
    const cached = () => readCache(t.node.ctx.db).get('test:zones', ['zone'], async () => {
      loads++;
      return t.node.ctx.db.selectFrom('zone').select('uuid').execute();
    });
    await cached();
    await cached();
    expect(loads).toBe(1);

    // a second node joins: the first hears of it at once (not at its next heartbeat) and keeps no total, nor cached rows
    b = await ManagementNode.start({ dbUrl: t.db.url, port: 0, host: '127.0.0.1', logger: pino({ level: 'silent' }) });
    expect(t.node.ctx.bus.listPeers().map((p) => p.uuid)).toEqual([b.nodeUuid]);
    expect(await total()).toBe(1);
    await other.db.deleteFrom('zone').where('uuid', '=', zones[0].uuid).execute();
    expect(await total()).toBe(0);
    expect(await cached()).toEqual([]);
    await cached();
    expect(loads).toBe(3);
  });
});
