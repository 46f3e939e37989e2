import { afterEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { ApiJobStore } from '../src/api/api-job-store.ts';
import { writeEpoch } from '../src/core/db/write-epochs.ts';
import { FlowJournal } from '../src/core/flow/index.ts';
import { startTestNode, type TestNode } from './support/test-node.ts';

/**
 * bench/REPORT.md suspected that the node's periodic deletes (expired api jobs and task progress, the
 * flow journal's prune) made every table's write epoch move, so a query total would never be reused in
 * a live node. A DELETE counts for every table only when the schema has a foreign key or a trigger
 * (either may carry it to other tables): the node's full schema has neither, so they count for their
 * own table only. This holds the schema to that.
 */
describe('write epochs on the node\'s full SQLite schema', () => {
  let t: TestNode | undefined;
  afterEach(async () => { await t?.stop(); t = undefined; });

  it('has no foreign key or trigger, so the periodic deletes leave the query tables\' epochs alone', async () => {
    t = await startTestNode('sqlite');
    const db = t.node.ctx.db;
    const cascading = await sql<{ name: string }>`select name from sqlite_master where type = 'trigger' or (type = 'table' and lower(sql) like '%references%')`.execute(db);
    expect(cascading.rows.map((r) => r.name)).toEqual([]);
    const epoch = writeEpoch(db)!;
    const tables = ['vm_instance', 'vm_nic', 'user_tag', 'system_tag', 'host'];
    const before = tables.map((x) => epoch(x));
    const jobsBefore = epoch('api_job');
    await new ApiJobStore(db, 'node').expire(0);
    await t.node.ctx.progress.expire(0);
    await new FlowJournal(db).prune(Date.now());
    expect(tables.map((x) => epoch(x))).toEqual(before);
    expect(epoch('api_job')).not.toBe(jobsBefore);
    // while a delete from a table that another references would count for all of them
    await sql`create table epoch_probe_parent (uuid text primary key)`.execute(db);
    await sql`create table epoch_probe_child (uuid text primary key, parentUuid text references epoch_probe_parent(uuid) on delete cascade)`.execute(db);
    const withFk = tables.map((x) => epoch(x));
    await db.deleteFrom('epoch_probe_parent').execute();
    expect(tables.map((x) => epoch(x))).not.toEqual(withFk);
  });
});
