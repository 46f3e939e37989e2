import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signReport } from '../src/core/agent/index.ts';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { newUuid } from '../src/core/util/uuid.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';

const PROGRESS = '/imagestore/download/progress';
const GiB = 1024 ** 3;

/**
 * AddImage on an image store: the store's agent reports `/imagestore/download/progress` while it
 * downloads, and the node files those percentages under the AddImage job
 * (`GET /zstack/v1/task-progresses/{job}`). The agent here is a stand-in speaking the agent protocol
 * over HTTP (the real agent's reports are covered in test/agent/); the node and its database are real.
 */
describe.each(testDatabaseKinds())('image store download progress on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let agent: Server;
  const bsUuid = newUuid();
  const token = `tok-${newUuid()}`;
  /** What the node answered to each progress report the stand-in sent. */
  const answers: Array<{ percent: number; status: number; body: unknown }> = [];

  const post = (url: string, headers: Record<string, string>, body: string) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

  /** The stand-in agent: every command is acknowledged; a download reports 30, 60, 100 % before its result. */
  async function onCommand(req: IncomingMessage, path: string): Promise<void> {
    const taskUuid = String(req.headers.taskuuid);
    const callback = String(req.headers.callbackurl);
    let result: Record<string, unknown> = { success: true, totalCapacity: 100 * GiB, availableCapacity: 90 * GiB };
    if (path === '/imagestore/download') {
      const sendCommand = callback.replace(/callback$/, 'sendcommand');
      for (const percent of [30, 60, 100]) {
        await new Promise((r) => setTimeout(r, 600)); // beyond the progress store's throttle
        const body = JSON.stringify({ taskUuid, imageUuid: 'x', percent, downloaded: percent, total: 100 });
        const res = await post(sendCommand, { commandpath: PROGRESS, ...signReport({ token, agentUuid: bsUuid, commandPath: PROGRESS, body }) }, body);
        answers.push({ percent, status: res.status, body: await res.json() });
      }
      result = { success: true, installPath: `/store/images/x.qcow2`, size: GiB, actualSize: 1024, format: 'qcow2', md5sum: 'm', sha256sum: 's' };
    }
    await post(callback, { taskuuid: taskUuid }, JSON.stringify(result));
  }

  beforeAll(async () => {
    t = await startTestNode(kind);
    c = await t.login();
    agent = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        void onCommand(req, String(req.url));
      });
    });
    await new Promise<void>((r) => agent.listen(0, '127.0.0.1', r));
    const port = (agent.address() as AddressInfo).port;
    // An image store as AddImageStoreBackupStorage leaves it (its deployment is covered in test/system/).
    const now = Date.now();
    const db = t.node.ctx.db;
    await db.insertInto('backup_storage').values({ uuid: bsUuid, name: 'progress-store', description: null, url: '/store', type: 'ImageStoreBackupStorage', state: 'Enabled', status: 'Connected', totalCapacity: 100 * GiB, availableCapacity: 90 * GiB, createDate: now, lastOpDate: now }).execute();
    await db.insertInto('image_store_backup_storage').values({ uuid: bsUuid, hostname: '127.0.0.1', username: 'root', password: null, sshPrivateKey: null, sshPort: 22, agentPort: port, agentDataDir: '/tmp/unused', agentToken: token }).execute();
  }, 60_000);

  afterAll(async () => {
    agent?.close();
    await t?.stop();
  });

  it("AddImage's job shows the agent's download percentages, then 100 once the image is in place", async () => {
    const job = newUuid();
    const first = await c.raw('POST', '/images', { params: { name: 'progress-image', url: 'http://images.example/x.qcow2', format: 'qcow2', backupStorageUuids: [bsUuid] } }, { 'X-Job-UUID': job });
    expect(first.status).toBe(202);
    const done = await c.poll(first.body.location);
    expect(done.status, done.text).toBe(200);
    expect(answers.map((a) => [a.percent, a.status, (a.body as { delivered?: boolean }).delivered])).toEqual([[30, 200, true], [60, 200, true], [100, 200, true]]);
    const percents = (await c.call('GET', `/task-progresses/${job}?all=true`)).inventories.map((p: { content: string }) => Number(p.content));
    // The agent's 100 means "bytes fetched": the job says 99 until the image is checked and recorded.
    expect(percents).toEqual([0, 30, 60, 99, 100]);
  });

  it('a progress report nobody waits for, or one not signed by the store, changes no job', async () => {
    const body = JSON.stringify({ taskUuid: newUuid(), imageUuid: 'x', percent: 50, downloaded: 50, total: 100 });
    const late = await post(`${t.url}/zstack/asyncrest/sendcommand`, { commandpath: PROGRESS, ...signReport({ token, agentUuid: bsUuid, commandPath: PROGRESS, body }) }, body);
    expect(await late.json()).toMatchObject({ success: true, delivered: false });
    const forged = await post(`${t.url}/zstack/asyncrest/sendcommand`, { commandpath: PROGRESS, ...signReport({ token: 'guess', agentUuid: bsUuid, commandPath: PROGRESS, body }) }, body);
    expect(forged.status).toBe(401);
  });
});
