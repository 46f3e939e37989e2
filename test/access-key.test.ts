import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { IdentityErrors } from '../src/core/errors/index.ts';
import { formatSignedDate, signRequest } from '../src/services/identity/signature.ts';
import { sha512, startTestNode, TestClient, type RawResponse, type TestNode } from './support/test-node.ts';

/**
 * Access keys as ZStack's SDK uses them: `Authorization: ZStack <id>:<signature>` with the `Date` it
 * signed. A good request is served as the key's account or user; a tampered, replayed or stale one,
 * or one with a disabled or deleted key, is refused (ID.1001) and changes nothing.
 */
describe.each(testDatabaseKinds())('access keys on %s', (kind) => {
  let t: TestNode;
  let admin: TestClient;
  let tenant: TestClient;
  let accountUuid: string;
  let key: { uuid: string; AccessKeyID: string; AccessKeySecret: string };

  /** A request signed as ZStack's ZSClient signs it; `tamper` changes what is sent after signing. */
  async function signed(method: string, path: string, body?: unknown, opts: { date?: number; secret?: string; signPath?: string; tamper?: (h: Record<string, string>) => void; id?: string } = {}): Promise<RawResponse> {
    const date = formatSignedDate(opts.date ?? Date.now());
    const signature = signRequest(opts.secret ?? key.AccessKeySecret, method, date, `/v1${opts.signPath ?? path.split('?')[0]}`);
    const headers: Record<string, string> = { Authorization: `ZStack ${opts.id ?? key.AccessKeyID}:${signature}`, date };
    if (body !== undefined) headers['Content-Type'] = 'application/json; charset=utf-8';
    opts.tamper?.(headers);
    const res = await fetch(`${t.url}/zstack/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let parsed: any = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* plain text */
    }
    if (res.status === 202) return admin.poll(parsed.location); // polls are not authenticated (ZStack's SDK sends OAuth null)
    return { status: res.status, text, body: parsed, headers: res.headers };
  }
  const expectRefused = (r: RawResponse, why: RegExp) => {
    expect(r.status, r.text).toBe(503);
    expect(r.body.error.code, r.text).toBe(IdentityErrors.AUTHENTICATION_ERROR.code);
    expect(r.body.error.details).toMatch(why);
  };
  const groupNames = async () => (await admin.call('GET', `/accounts/groups?q=accountUuid=${accountUuid}`)).inventories.map((g: any) => g.name).sort();

  beforeAll(async () => {
    t = await startTestNode(kind);
    admin = await t.login();
    accountUuid = (await admin.call('POST', '/accounts', { params: { name: 'keyed', password: sha512('pw') } })).inventory.uuid;
    tenant = await t.login('keyed', 'pw');
    key = (await tenant.call('POST', '/accesskeys', { params: { accountUuid, userUuid: accountUuid, description: 'ci' } })).inventory;
  });
  afterAll(async () => t?.stop());

  it('shows the secret once, in the create reply (200, no api job keeps it), and never in queries', async () => {
    const raw = await tenant.raw('POST', '/accesskeys', { params: { accountUuid, userUuid: accountUuid } });
    expect(raw.status).toBe(200);
    expect(raw.body.inventory.AccessKeySecret).toMatch(/^[A-Za-z0-9]{40}$/);
    const jobs = JSON.stringify(await t.node.ctx.db.selectFrom('api_job').selectAll().execute());
    expect(jobs).not.toContain(raw.body.inventory.AccessKeySecret);
    expect(jobs).not.toContain(key.AccessKeySecret);
    expect(key.AccessKeyID).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(key.AccessKeySecret).toMatch(/^[A-Za-z0-9]{40}$/);
    const q = await tenant.send('GET', `/accesskeys?q=uuid=${key.uuid}`);
    expect(q.body.inventories).toHaveLength(1);
    expect(q.body.inventories[0].AccessKeyID).toBe(key.AccessKeyID);
    expect(q.text).not.toContain(key.AccessKeySecret);
  });

  it('serves a signed request as the key’s account, sync and async, including queries signed on their path', async () => {
    const created = await signed('POST', '/accounts/groups', { params: { name: 'by-key' } });
    expect(created.status, created.text).toBe(200);
    expect(created.body.inventory.accountUuid).toBe(accountUuid);
    const q = await signed('GET', '/accounts/groups?q=name=by-key');
    expect(q.status, q.text).toBe(200);
    expect(q.body.inventories.map((g: any) => g.name)).toEqual(['by-key']);
    // ZStack's SDK signs a query by uuid on the route template (`/v1/accounts/groups/{uuid}`); the real path is accepted too.
    const uuid = created.body.inventory.uuid;
    for (const signPath of ['/accounts/groups/{uuid}', `/accounts/groups/${uuid}`]) {
      const one = await signed('GET', `/accounts/groups/${uuid}`, undefined, { signPath });
      expect(one.status, one.text).toBe(200);
      expect(one.body.inventories.map((g: any) => g.uuid)).toEqual([uuid]);
    }
    // A key acts with its account's rights: no admin-only API.
    const zone = await signed('POST', '/zones', { params: { name: 'nope' } });
    expect(zone.body.error.code).toBe(IdentityErrors.PERMISSION_DENIED.code);
  });

  it('refuses a tampered request: another path, method, date, body key or secret than was signed', async () => {
    const before = await groupNames();
    expectRefused(await signed('POST', '/accounts/groups', { params: { name: 'x1' } }, { signPath: '/accounts/policies' }), /signature/);
    expectRefused(await signed('POST', '/accounts/groups', { params: { name: 'x2' } }, { secret: 'wrong'.repeat(8) }), /signature/);
    expectRefused(await signed('POST', '/accounts/groups', { params: { name: 'x3' } }, { tamper: (h) => { h.date = formatSignedDate(Date.now() + 1000); } }), /signature/);
    expectRefused(await signed('POST', '/accounts/groups', { params: { name: 'x4' } }, { tamper: (h) => { h.Authorization = h.Authorization.replace(/.(=?)$/, (m, eq) => (m[0] === 'A' ? 'B' : 'A') + eq); } }), /signature/);
    expectRefused(await signed('POST', '/accounts/groups', { params: { name: 'x5' } }, { id: 'NoSuchKeyId0000000000' }), /unknown or disabled/);
    const noDate = await signed('POST', '/accounts/groups', { params: { name: 'x6' } }, { tamper: (h) => { delete h.date; } });
    expect(noDate.status).toBe(400);
    expect(await groupNames()).toEqual(before);
  });

  it('refuses a replayed request, byte for byte the same as one already served', async () => {
    const date = formatSignedDate(Date.now());
    const signature = signRequest(key.AccessKeySecret, 'POST', date, '/v1/accounts/groups');
    const send = () => fetch(`${t.url}/zstack/v1/accounts/groups`, { method: 'POST', headers: { Authorization: `ZStack ${key.AccessKeyID}:${signature}`, date, 'Content-Type': 'application/json' }, body: JSON.stringify({ params: { name: 'once' } }) });
    const first = await send();
    expect(first.status).toBe(202);
    expect((await admin.poll(((await first.json()) as any).location)).status).toBe(200);
    const replay = await send();
    expect(replay.status).toBe(503);
    expect(((await replay.json()) as any).error.details).toMatch(/replay/);
    expect((await groupNames()).filter((n: string) => n === 'once')).toEqual(['once']);
  });

  it('refuses a stale request: a Date too far from the server clock either way', async () => {
    expectRefused(await signed('POST', '/accounts/groups', { params: { name: 'old' } }, { date: Date.now() - 16 * 60_000 }), /too far/);
    expectRefused(await signed('POST', '/accounts/groups', { params: { name: 'future' } }, { date: Date.now() + 16 * 60_000 }), /too far/);
    expect((await signed('GET', '/accounts/groups', undefined, { date: Date.now() - 60_000 })).status).toBe(200);
  });

  it('refuses a disabled key at once, serves it again when enabled, and forgets a deleted one', async () => {
    await tenant.call('PUT', `/accesskeys/${key.uuid}/actions`, { changeAccessKeyState: { stateEvent: 'disable' } });
    expectRefused(await signed('GET', '/accounts/groups'), /disabled/);
    await tenant.call('PUT', `/accesskeys/${key.uuid}/actions`, { changeAccessKeyState: { stateEvent: 'enable' } });
    expect((await signed('GET', '/accounts/groups')).status).toBe(200);
    await tenant.call('DELETE', `/accesskeys/${key.uuid}`);
    expectRefused(await signed('GET', '/accounts/groups'), /unknown/);
  });

  it('acts as the user a key belongs to, held to that user’s policies', async () => {
    const user = (await tenant.call('POST', '/accounts/users', { params: { name: 'robot', password: sha512('r') } })).inventory;
    key = (await tenant.call('POST', '/accesskeys', { params: { accountUuid, userUuid: user.uuid } })).inventory;
    expect((await signed('GET', '/accounts/groups')).status).toBe(200);
    const denied = await signed('POST', '/accounts/groups', { params: { name: 'robot-group' } });
    expect(denied.body.error.code).toBe(IdentityErrors.PERMISSION_DENIED.code);
    // A user manages its own keys without a policy, and nobody else's.
    const res = await fetch(`${t.url}/zstack/v1/accounts/users/login`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ logInByUser: { accountUuid, userName: 'robot', password: sha512('r') } }) });
    const robot = new TestClient(t.url, ((await res.json()) as any).inventory.uuid);
    expect((await robot.send('PUT', `/accesskeys/${key.uuid}/actions`, { changeAccessKeyState: { stateEvent: 'disable' } })).status).toBe(200);
    expectRefused(await signed('GET', '/accounts/groups'), /disabled/);
    const accountKey = (await tenant.call('POST', '/accesskeys', { params: { accountUuid, userUuid: accountUuid } })).inventory;
    expect((await robot.send('DELETE', `/accesskeys/${accountKey.uuid}`)).body.error?.code).toBe(IdentityErrors.PERMISSION_DENIED.code);
    expect((await robot.send('DELETE', `/accesskeys/${key.uuid}`)).status).toBe(200);
    // Another account's key cannot be made by a tenant.
    const other = await tenant.send('POST', '/accesskeys', { params: { accountUuid: '36c27e8ff05c4780bf6d2fa65700f22e', userUuid: '36c27e8ff05c4780bf6d2fa65700f22e' } });
    expect(other.status).toBe(503);
  });
});
