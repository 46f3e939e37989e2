import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { newUuid } from '../src/core/util/uuid.ts';
import { sha512, startTestNode, type TestNode } from './support/test-node.ts';
import { gson, sdkPoll, sdkRequest, type WireResponse } from './support/rest-sdk-wire.ts';

/** Sessions as ZStack's clients use them: login, validate, renew, logout, expiry by global config. */
const SESSION_CACHE_MS = 1000;

describe.each(testDatabaseKinds())('sessions on %s', (kind) => {
  let t: TestNode;

  const login = async (): Promise<{ uuid: string; expiredDate: string }> => {
    const r = await sdkRequest(t.url, 'PUT', '/zstack/v1/accounts/login', { body: gson({ logInByAccount: { accountName: 'admin', password: sha512('password') } }) });
    expect(r.status, r.text).toBe(200);
    return r.json.inventory;
  };
  /** Any authenticated call: a query of zones. */
  const useSession = (session: string) => sdkRequest(t.url, 'GET', '/zstack/v1/zones', { session });
  const isValid = async (session: string) => {
    const r = await sdkRequest(t.url, 'GET', `/zstack/v1/accounts/sessions/${session}/valid`, {});
    expect(r.status, r.text).toBe(200);
    return r.json;
  };
  async function asyncCall(session: string, method: string, target: string, body: unknown): Promise<WireResponse> {
    const first = await sdkRequest(t.url, method, `/zstack/v1${target}`, { session, body: gson(body) });
    expect(first.status, first.text).toBe(202);
    return sdkPoll(first.json.location, `OAuth ${session}`);
  }
  const expectInvalidSession = (r: WireResponse) => {
    expect(r.status, r.text).toBe(503);
    expect(r.json.error.code).toBe('ID.1002');
  };
  const storedExpiry = async (session: string) => Number((await t.node.ctx.db.selectFrom('session').select('expiredDate').where('uuid', '=', session).executeTakeFirstOrThrow()).expiredDate);

  beforeAll(async () => {
    t = await startTestNode(kind);
  });
  afterAll(async () => t?.stop());

  it('validates a live session with {"valid":true} and an unknown one with {"valid":false}', async () => {
    const s = await login();
    expect(await isValid(s.uuid)).toEqual({ valid: true });
    expect(await isValid(newUuid())).toEqual({ valid: false });
  });

  it('renews a session asynchronously by the duration asked', async () => {
    const s = await login();
    const before = Date.now();
    const done = await asyncCall(s.uuid, 'PUT', `/accounts/sessions/${s.uuid}/renew`, { renewSession: { duration: 600 } });
    expect(done.status, done.text).toBe(200);
    expect(done.json.inventory.uuid).toBe(s.uuid);
    const expires = Date.parse(done.json.inventory.expiredDate);
    expect(expires).toBeGreaterThanOrEqual(before + 600_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 600_000);
    expect(await storedExpiry(s.uuid)).toBe(expires);
  });

  it('refuses a renewal shorter than 60 seconds with SYS.1007', async () => {
    const s = await login();
    const r = await sdkRequest(t.url, 'PUT', `/zstack/v1/accounts/sessions/${s.uuid}/renew`, { session: s.uuid, body: gson({ renewSession: { duration: 5 } }) });
    expect(r.status, r.text).toBe(503);
    expect(r.json.error.code).toBe('SYS.1007');
  });

  it('ends a session at once on logout: the very next call is refused with ID.1002', async () => {
    const s = await login();
    expect((await useSession(s.uuid)).status).toBe(200); // now cached on the node
    const out = await sdkRequest(t.url, 'DELETE', `/zstack/v1/accounts/sessions/${s.uuid}`, {});
    expect(out.status, out.text).toBe(200);
    expectInvalidSession(await useSession(s.uuid));
    expect(await isValid(s.uuid)).toEqual({ valid: false });
  });

  it('keeps two sessions of one account independent: logging one out leaves the other working', async () => {
    const a = await login();
    const b = await login();
    expect(a.uuid).not.toBe(b.uuid);
    await sdkRequest(t.url, 'DELETE', `/zstack/v1/accounts/sessions/${a.uuid}`, {});
    expectInvalidSession(await useSession(a.uuid));
    expect((await useSession(b.uuid)).status).toBe(200);
    expect(await isValid(b.uuid)).toEqual({ valid: true });
  });

  it('stores the password only as scrypt, never the SHA-512 hex the clients send', async () => {
    const row = await t.node.ctx.db.selectFrom('account').select(['passwordHash']).where('name', '=', 'admin').executeTakeFirstOrThrow();
    const hash = String(row.passwordHash);
    expect(hash.startsWith('scrypt$')).toBe(true);
    const hex = sha512('password');
    expect(hash.toLowerCase()).not.toContain(hex);
    expect(hash).not.toContain(hex.slice(0, 16));
    expect(hash).not.toContain('password');
  });

  it('never shows the password hash in account queries', async () => {
    const s = await login();
    const r = await useSession(s.uuid);
    expect(r.status).toBe(200);
    const accounts = await sdkRequest(t.url, 'GET', '/zstack/v1/accounts', { session: s.uuid });
    expect(accounts.status, accounts.text).toBe(200);
    expect(accounts.json.inventories.length).toBeGreaterThan(0);
    expect(accounts.text).not.toMatch(/scrypt|passwordHash/);
  });

  it('gives new sessions the lifetime of identity.session.timeout and refuses a session once it has expired', async () => {
    const admin = await login();
    const updated = await asyncCall(admin.uuid, 'PUT', '/global-configurations/identity/session.timeout/actions', { updateGlobalConfig: { value: '60' } });
    expect(updated.status, updated.text).toBe(200);
    expect(String(updated.json.inventory.value)).toBe('60');

    const before = Date.now();
    const s = await login();
    const after = Date.now();
    expect(Date.parse(s.expiredDate)).toBeGreaterThanOrEqual(before + 60_000);
    expect(Date.parse(s.expiredDate)).toBeLessThanOrEqual(after + 60_000);
    expect((await useSession(s.uuid)).status).toBe(200);

    await t.node.ctx.db.updateTable('session').set({ expiredDate: Date.now() - 1000 }).where('uuid', '=', s.uuid).execute();
    await new Promise((r) => setTimeout(r, SESSION_CACHE_MS + 100)); // the node may serve a session from memory for up to 1 s
    expectInvalidSession(await useSession(s.uuid));
    expect(await isValid(s.uuid)).toEqual({ valid: false });
    // An expired session cannot renew itself back to life.
    expectInvalidSession(await sdkRequest(t.url, 'PUT', `/zstack/v1/accounts/sessions/${s.uuid}/renew`, { session: s.uuid, body: gson({ renewSession: {} }) }));
    // Other sessions are not affected.
    expect((await useSession(admin.uuid)).status).toBe(200);
  });

  it('deletes expired sessions at a login once identity.session.cleanup.interval has passed, keeping live ones', async () => {
    const admin = await login();
    const updated = await asyncCall(admin.uuid, 'PUT', '/global-configurations/identity/session.cleanup.interval/actions', { updateGlobalConfig: { value: '1' } });
    expect(updated.status, updated.text).toBe(200);
    const stale = newUuid();
    const now = Date.now();
    const account = (await t.node.ctx.db.selectFrom('account').select('uuid').where('name', '=', 'admin').executeTakeFirstOrThrow()).uuid;
    await t.node.ctx.db.insertInto('session').values({ uuid: stale, accountUuid: account, userUuid: account, userType: 'AccountVO', expiredDate: now - 60_000, createDate: now - 120_000, lastOpDate: now - 120_000 }).execute();
    await new Promise((r) => setTimeout(r, 1100));
    await login();
    const started = Date.now();
    while ((await t.node.ctx.db.selectFrom('session').select('uuid').where('uuid', '=', stale).executeTakeFirst()) && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 25));
    expect(await t.node.ctx.db.selectFrom('session').select('uuid').where('uuid', '=', stale).executeTakeFirst()).toBeUndefined();
    expect((await useSession(admin.uuid)).status).toBe(200);
  });

  it('refuses a global config value outside its declared range with SYS.1007 and keeps the old value', async () => {
    const s = await login();
    const r = await asyncCall(s.uuid, 'PUT', '/global-configurations/identity/session.timeout/actions', { updateGlobalConfig: { value: '5' } });
    expect(r.status, r.text).toBe(503);
    expect(r.json.error.code).toBe('SYS.1007');
  });
});
