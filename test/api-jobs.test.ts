import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ApiJobStore } from '../src/api/api-job-store.ts';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { newUuid } from '../src/core/util/uuid.ts';
import { startTestNode, type TestNode } from './support/test-node.ts';
import { gson, sdkPoll, sdkRequest } from './support/rest-sdk-wire.ts';
import { zoneGate, type ZoneGate } from './support/rest-test-modules.ts';

/** A local HTTP server standing in for a caller's webhook; answers with `statuses` in turn, then 200. */
interface HookServer {
  url: string;
  calls: { headers: IncomingHttpHeaders; body: any; status: number }[];
  /** Resolves when `n` calls have been answered 2xx… or at all (`answered`). */
  until(n: number): Promise<void>;
  close(): Promise<void>;
}

async function hookServer(statuses: number[] = []): Promise<HookServer> {
  const calls: HookServer['calls'] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const status = statuses[calls.length] ?? 200;
      calls.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')), status });
      res.writeHead(status).end();
      for (const w of waiters.filter((x) => calls.length >= x.n)) w.resolve();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    calls,
    until: (n) => (calls.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }))),
    close: () => new Promise((r) => server.close(() => r())),
  };
}

async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 15_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.each(testDatabaseKinds())('async api jobs on %s', (kind) => {
  let t: TestNode;
  let gate: ZoneGate;
  let session: string;
  const hooks: HookServer[] = [];

  const send = (method: string, target: string, body: unknown, opts: { jobUuid?: string; headers?: Record<string, string> } = {}) =>
    sdkRequest(t.url, method, `/zstack/v1${target}`, { session, body: body === undefined ? undefined : gson(body), ...opts });
  const zonesNamed = async (name: string) => (await t.node.ctx.db.selectFrom('zone').select('uuid').where('name', '=', name).execute()).map((r) => r.uuid as string);
  const newHook = async (statuses?: number[]) => {
    const h = await hookServer(statuses);
    hooks.push(h);
    return h;
  };

  beforeAll(async () => {
    gate = zoneGate();
    t = await startTestNode(kind, { modules: [gate.module], node: { webhook: { attempts: 5, intervalMs: 20, timeoutMs: 5000 } } });
    session = (await t.login()).session;
  });
  afterEach(async () => {
    gate.open();
    gate.close();
    await Promise.all(hooks.splice(0).map((h) => h.close()));
  });
  afterAll(async () => {
    gate?.open();
    await t?.stop();
  });

  describe('X-Job-UUID', () => {
    it('runs a job sent twice with the same X-Job-UUID only once, and points the second answer to the same job', async () => {
      const jobUuid = newUuid();
      const first = await send('POST', '/zones', { params: { name: 'gated-once' } }, { jobUuid });
      await gate.waiting();
      // The retry arrives while the first run is still going, as a client retrying after a lost reply would.
      const second = await send('POST', '/zones', { params: { name: 'gated-once' } }, { jobUuid });
      expect(first.status).toBe(202);
      expect(second.status).toBe(202);
      expect(second.json.location).toBe(first.json.location);
      gate.open();
      const done = await sdkPoll(first.json.location, 'OAuth null');
      expect(done.status, done.text).toBe(200);
      // and once more after it finished
      const third = await send('POST', '/zones', { params: { name: 'gated-once' } }, { jobUuid });
      expect(third.json.location).toBe(first.json.location);
      await new Promise((r) => setTimeout(r, 100));
      expect(await zonesNamed('gated-once')).toEqual([done.json.inventory.uuid]);
    });

    it('runs two concurrent requests with one X-Job-UUID only once', async () => {
      const jobUuid = newUuid();
      const [a, b] = await Promise.all([send('POST', '/zones', { params: { name: 'racing-once' } }, { jobUuid }), send('POST', '/zones', { params: { name: 'racing-once' } }, { jobUuid })]);
      expect([a.status, b.status]).toEqual([202, 202]);
      expect(a.json.location).toBe(b.json.location);
      const done = await sdkPoll(a.json.location, 'OAuth null');
      expect(done.status).toBe(200);
      await new Promise((r) => setTimeout(r, 100));
      expect(await zonesNamed('racing-once')).toHaveLength(1);
    });

    it('refuses an X-Job-UUID that is not 32 lower-case hex characters with a plain-text 400, running nothing', async () => {
      for (const bad of ['not-a-uuid', newUuid().toUpperCase(), '0c8d1c6e-3f0b-4a0c-9d3c-3a3b3c3d3e3f', newUuid().slice(0, 31)]) {
        const r = await send('POST', '/zones', { params: { name: 'bad-job-id' } }, { jobUuid: bad });
        expect(r.status, bad).toBe(400);
        expect(String(r.headers['content-type'])).toMatch(/^text\/plain/);
        expect(r.text).toMatch(/X-Job-UUID/);
      }
      expect(await zonesNamed('bad-job-id')).toEqual([]);
    });

    it('answers a poll of an unknown job with a plain-text 404', async () => {
      const r = await sdkRequest(t.url, 'GET', `/zstack/v1/api-jobs/${newUuid()}`, { jobUuid: null, headers: { Authorization: 'OAuth null' } });
      expect(r.status).toBe(404);
      expect(String(r.headers['content-type'])).toMatch(/^text\/plain/);
    });
  });

  describe('X-Web-Hook', () => {
    it('POSTs a successful result to the hook with X-Job-UUID and X-Job-Success: true', async () => {
      const hook = await newHook();
      const jobUuid = newUuid();
      const first = await send('POST', '/zones', { params: { name: 'hooked zone' } }, { jobUuid, headers: { 'X-Web-Hook': hook.url } });
      expect(first.status).toBe(202);
      await hook.until(1);
      expect(hook.calls).toHaveLength(1);
      expect(hook.calls[0].headers['x-job-uuid']).toBe(jobUuid);
      expect(hook.calls[0].headers['x-job-success']).toBe('true');
      expect(hook.calls[0].body.inventory).toMatchObject({ name: 'hooked zone', state: 'Enabled' });
      // The result is pollable as well.
      expect((await sdkPoll(first.json.location, 'OAuth null')).json).toEqual(hook.calls[0].body);
    });

    it('POSTs a failure to the hook with X-Job-Success: false and the error', async () => {
      const hook = await newHook();
      const jobUuid = newUuid();
      await send('PUT', `/zones/${newUuid()}/actions`, { changeZoneState: { stateEvent: 'disable' } }, { jobUuid, headers: { 'X-Web-Hook': hook.url } });
      await hook.until(1);
      expect(hook.calls[0].headers['x-job-uuid']).toBe(jobUuid);
      expect(hook.calls[0].headers['x-job-success']).toBe('false');
      expect(hook.calls[0].body.error).toMatchObject({ code: 'SYS.1003' });
    });

    it('retries a hook that answers 500 until it answers 200, then stops', async () => {
      const hook = await newHook([500, 500, 200]);
      await send('POST', '/zones', { params: { name: 'retried hook zone' } }, { headers: { 'X-Web-Hook': hook.url } });
      await hook.until(3);
      await new Promise((r) => setTimeout(r, 200)); // 10 retry intervals: a fourth delivery would have come by now
      expect(hook.calls.map((c) => c.status)).toEqual([500, 500, 200]);
      expect(new Set(hook.calls.map((c) => c.headers['x-job-uuid'])).size).toBe(1);
      expect(hook.calls[2].body).toEqual(hook.calls[0].body);
    });

    it('refuses an X-Web-Hook that is not an http(s) URL with a plain-text 400', async () => {
      const r = await send('POST', '/zones', { params: { name: 'bad hook zone' } }, { headers: { 'X-Web-Hook': 'ftp://example.invalid/x' } });
      expect(r.status).toBe(400);
      expect(r.text).toMatch(/X-Web-Hook/);
    });
  });

  describe('X-API-Timeout', () => {
    /** Sends a zone creation that waits at the gate past a 300 ms X-API-Timeout; resolves with the failed poll. */
    async function timedOutCreate(name: string) {
      const first = await send('POST', '/zones', { params: { name } }, { headers: { 'X-API-Timeout': '300' } });
      expect(first.status).toBe(202);
      expect(first.json.apiTimeout).toBe(300);
      await gate.waiting();
      return sdkPoll(first.json.location, 'OAuth null');
    }

    /** Opens the gate and waits for the timed-out flow's journal row to leave Running. */
    async function flowEnd(name: string): Promise<string> {
      gate.open();
      const row = await eventually(async () => {
        const r = await t.node.ctx.db.selectFrom('flow_journal').select(['state']).where('chainName', '=', 'zone.create').where('ctx', 'like', `%${name}%`).executeTakeFirst();
        return r && r.state !== 'Running' ? r : undefined;
      }, 'the timed-out flow to end');
      return row.state as string;
    }

    it('fails a job that outlives its X-API-Timeout with SYS.1001 without waiting for the work to end', async () => {
      const failed = await timedOutCreate('gated-timeout-1');
      expect(failed.status, failed.text).toBe(503);
      expect(failed.json.error.code).toBe('SYS.1001');
      await flowEnd('gated-timeout-1');
    });

    // The caller was told SYS.1001: a chain that ends after its deadline must not leave the zone behind.
    it('rolls back the zone of a job that failed with SYS.1001 once its overrunning step ends', async () => {
      const failed = await timedOutCreate('gated-timeout-2');
      expect(failed.json.error.code).toBe('SYS.1001');
      expect(await flowEnd('gated-timeout-2')).toBe('RolledBack');
      expect(await zonesNamed('gated-timeout-2')).toEqual([]);
    });

    it('refuses an X-API-Timeout that is not a number of milliseconds with a plain-text 400', async () => {
      const r = await send('POST', '/zones', { params: { name: 'bad timeout zone' } }, { headers: { 'X-API-Timeout': '1s' } });
      expect(r.status).toBe(400);
      expect(r.text).toMatch(/X-API-Timeout/);
    });
  });

  describe('job lifetime', () => {
    it('forgets completed jobs once expired: their poll answers a plain-text 404', async () => {
      const first = await send('POST', '/zones', { params: { name: 'expiring job zone' } });
      expect((await sdkPoll(first.json.location, 'OAuth null')).status).toBe(200);
      const store = new ApiJobStore(t.node.ctx.db, t.node.nodeUuid);
      // Not yet old enough: kept.
      await store.expire(60_000);
      expect((await sdkRequest(t.url, 'GET', new URL(first.json.location).pathname, { jobUuid: null })).status).toBe(200);
      expect(await store.expire(0, Date.now() + 1)).toBeGreaterThanOrEqual(1);
      const gone = await sdkRequest(t.url, 'GET', new URL(first.json.location).pathname, { jobUuid: null });
      expect(gone.status).toBe(404);
      expect(String(gone.headers['content-type'])).toMatch(/^text\/plain/);
    });

    it('never expires a job that is still running', async () => {
      const first = await send('POST', '/zones', { params: { name: 'gated-running' } });
      await gate.waiting();
      await new ApiJobStore(t.node.ctx.db, t.node.nodeUuid).expire(0, Date.now() + 60_000);
      expect((await sdkRequest(t.url, 'GET', new URL(first.json.location).pathname, { jobUuid: null })).status).toBe(202);
      gate.open();
      expect((await sdkPoll(first.json.location, 'OAuth null')).status).toBe(200);
    });

    it('fails the jobs of a node that died (SYS.1012) and leaves the jobs of live nodes running', async () => {
      const db = t.node.ctx.db;
      const orphan = newUuid();
      const mine = newUuid();
      const now = Date.now();
      await db.insertInto('api_job').values({ uuid: orphan, apiName: 'CreateZone', state: 'Processing', nodeUuid: newUuid(), createDate: now }).execute();
      await db.insertInto('api_job').values({ uuid: mine, apiName: 'CreateZone', state: 'Processing', nodeUuid: t.node.nodeUuid, createDate: now }).execute();
      expect((await sdkRequest(t.url, 'GET', `/zstack/v1/api-jobs/${orphan}`, { jobUuid: null })).status).toBe(202);

      await t.node.takeOverFromDeadNodes();

      const failed = await sdkRequest(t.url, 'GET', `/zstack/v1/api-jobs/${orphan}`, { jobUuid: null, headers: { Authorization: 'OAuth null' } });
      expect(failed.status).toBe(503);
      expect(failed.json.error.code).toBe('SYS.1012');
      expect((await sdkRequest(t.url, 'GET', `/zstack/v1/api-jobs/${mine}`, { jobUuid: null })).status).toBe(202);
      await db.deleteFrom('api_job').where('uuid', '=', mine).execute();
    });
  });
});
