import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { TaskProgressStore } from '../src/core/progress/index.ts';
import { newUuid } from '../src/core/util/uuid.ts';
import { createZone } from './support/integration.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';

describe.each(testDatabaseKinds())('progress of long api jobs on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let dir: string;
  beforeAll(async () => {
    t = await startTestNode(kind);
    c = await t.login();
    dir = mkdtempSync(join(tmpdir(), 'strato-progress-'));
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an image download reports its progress under the job id, rising to 100', async () => {
    const file = join(dir, 'image.raw');
    writeFileSync(file, Buffer.alloc(24 * 2 ** 20, 7)); // 24 MiB: the stream reads it in many chunks
    const zone = (await createZone(c, 'progress-zone')).uuid;
    const bs = (await c.call('POST', '/backup-storage/simulators', { params: { name: 'progress-bs', url: '/sim/progress-bs', totalCapacity: 2 ** 40 } })).inventory.uuid;
    await c.call('POST', `/zones/${zone}/backup-storage/${bs}`, { params: {} });
    const job = newUuid();
    const first = await c.raw('POST', '/images', { params: { name: 'progress-image', url: pathToFileURL(file).href, format: 'raw', backupStorageUuids: [bs] } }, { 'X-Job-UUID': job });
    expect(first.status).toBe(202);
    expect((await c.poll(first.body.location)).status).toBe(200);

    const all = await c.call('GET', `/task-progresses/${job}?all=true`);
    const percents = all.inventories.map((p: { content: string }) => Number(p.content));
    expect(percents.length).toBeGreaterThanOrEqual(2);
    expect(percents.at(-1)).toBe(100);
    expect([...percents].sort((a, b) => a - b)).toEqual(percents); // never goes backwards
    expect(all.schema['inventories[0]']).toBe('org.zstack.header.core.progress.TaskProgressInventory');
    const latest = await c.call('GET', `/task-progresses/${job}`);
    expect(latest.inventories).toHaveLength(1);
    expect(latest.inventories[0].content).toBe('100');
  });

  it('a job that reported nothing has an empty progress list', async () => {
    expect((await c.call('GET', `/task-progresses/${newUuid()}`)).inventories).toEqual([]);
  });

  it('throttles reports: small steps within the interval are dropped, 100 always lands', async () => {
    const store = new TaskProgressStore(t.node.ctx.db, 1000);
    const api = newUuid();
    await store.report(api, 'x', 10, undefined, 1_000);
    await store.report(api, 'x', 10.5, undefined, 3_000); // less than 1 %
    await store.report(api, 'x', 40, undefined, 1_200); // too soon
    await store.report(api, 'x', 100, undefined, 1_300); // always
    expect((await store.list(api, true)).map((r) => r.content)).toEqual(['10', '100']);
    expect(await store.expire(0, Date.now() + 10_000_000)).toBeGreaterThanOrEqual(2);
  });
});
