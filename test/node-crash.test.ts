import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freshTestDatabase, openDatabase, testDatabaseKinds, type Database, type TestDatabase } from '../src/core/db/index.ts';
import { SysErrors } from '../src/core/errors/index.ts';
import { newUuid } from '../src/core/util/uuid.ts';
import { loginAt, waitFor } from './support/integration.ts';
import { startServeProcess, type ServeProcess } from './support/serve-process.ts';

const PLUGIN = resolve(import.meta.dirname, 'fixtures/blocking-zone-plugin.ts');
/** Well below the default fencing delay (6 heartbeats of 5 s): the restart must take over at once, not by timeout. */
const TAKEOVER_TIMEOUT_MS = 15_000;

describe.each(testDatabaseKinds())('a strato serve process killed in the middle of a flow on %s', (kind) => {
  let dir: string;
  let testDb: TestDatabase | undefined;
  let db: Database | undefined;
  const procs: ServeProcess[] = [];

  afterEach(async () => {
    for (const p of procs.splice(0)) {
      p.child.kill('SIGKILL');
      await p.exited;
    }
    await db?.close();
    await testDb?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('has the flow rolled back by the restarted node, the api job failed with SYS.1012, and serves normally', { timeout: 90_000 }, async () => {
    dir = mkdtempSync(join(tmpdir(), 'strato-crash-'));
    testDb = await freshTestDatabase(kind, dir);
    await testDb.close();
    db = await openDatabase(testDb.url);
    const marker = join(dir, 'blocked.marker');
    const env = { STRATO_EXTRA_MODULES: PLUGIN, STRATO_TEST_MARKER: marker };

    const first = await startServeProcess({ dbUrl: testDb.url, dataDir: dir, env });
    procs.push(first);
    const c1 = await loginAt(first.url);
    const zoneUuid = newUuid();
    const accepted = await c1.raw('POST', '/zones', { params: { name: 'block-me', resourceUuid: zoneUuid }, userTags: ['half-made'] });
    expect(accepted.status).toBe(202);
    const jobPath = new URL(accepted.body.location).pathname;

    await waitFor('the plugin step to start', () => existsSync(marker));
    expect(readFileSync(marker, 'utf8')).toBe(zoneUuid);
    // The zone exists, half made: the chain is stuck after AfterZonePersisted.
    expect(await db.db.selectFrom('zone').select('uuid').where('uuid', '=', zoneUuid).execute()).toHaveLength(1);
    expect(await db.db.selectFrom('user_tag').select('tag').where('resourceUuid', '=', zoneUuid).execute()).toEqual([{ tag: 'half-made' }]);
    const running = await db.db.selectFrom('flow_journal').select(['state', 'chainName']).where('resourceUuid', '=', zoneUuid).execute();
    expect(running).toEqual([{ state: 'Running', chainName: 'zone.create' }]);
    const stillRunning = await fetch(`${first.url}${jobPath}`);
    expect(stillRunning.status).toBe(202);

    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');

    // Restarted as an operator would: same address, same port, same database.
    const second = await startServeProcess({ dbUrl: testDb.url, dataDir: dir, port: first.port, env });
    procs.push(second);
    const c2 = await loginAt(second.url);
    const polled = await c2.poll(`${second.url}${jobPath}`, TAKEOVER_TIMEOUT_MS);
    expect(polled.status).toBe(503);
    expect(polled.body.error.code).toBe(SysErrors.MANAGEMENT_NODE_UNAVAILABLE_ERROR.code);

    await waitFor('the journal row to be rolled back', async () => {
      const row = await db!.db.selectFrom('flow_journal').select('state').where('resourceUuid', '=', zoneUuid).executeTakeFirst();
      return row?.state === 'RolledBack';
    });
    expect(await db.db.selectFrom('zone').select('uuid').where('uuid', '=', zoneUuid).execute()).toEqual([]);
    expect(await db.db.selectFrom('user_tag').select('uuid').where('resourceUuid', '=', zoneUuid).execute()).toEqual([]);
    expect(await db.db.selectFrom('system_tag').select('uuid').where('resourceUuid', '=', zoneUuid).execute()).toEqual([]);
    const nodes = await db.db.selectFrom('management_node').select('uuid').execute();
    expect(nodes).toHaveLength(1); // the previous run's row was replaced

    const zone = (await c2.call('POST', '/zones', { params: { name: 'after-restart' } })).inventory;
    expect(zone.name).toBe('after-restart');
    const q = await c2.call('GET', `/zones?q=${encodeURIComponent('name=after-restart')}`);
    expect(q.inventories.map((z: any) => z.uuid)).toEqual([zone.uuid]);
    expect((await c2.call('GET', `/zones?q=${encodeURIComponent(`uuid=${zoneUuid}`)}`)).inventories).toEqual([]);

    await second.stop();
    expect(await second.exited).toBe(0);
  });
});
