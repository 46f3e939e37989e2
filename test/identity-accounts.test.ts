import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { IdentityErrors } from '../src/core/errors/index.ts';
import { sha512, startTestNode, TestClient, type RawResponse, type TestNode } from './support/test-node.ts';

/**
 * Accounts, users, groups and policies through the REST API as ZStack's SDK calls them: admin-only
 * APIs, Deny over Allow, password changes and resets, sessions ending at once, the session cap, the
 * lock-out after failed logins, and DeleteAccount taking everything of the account with it.
 */
describe.each(testDatabaseKinds())('accounts, users, groups and policies on %s', (kind) => {
  let t: TestNode;
  let admin: TestClient;
  const logLines: string[] = [];

  const expectError = (r: RawResponse, code: string) => {
    expect(r.status, r.text).toBe(503);
    expect(r.body.error.code, r.text).toBe(code);
  };
  const logIn = async (body: Record<string, unknown>, byUser = false): Promise<RawResponse> => {
    const res = await fetch(`${t.url}/zstack/v1/accounts/${byUser ? 'users/' : ''}login`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(byUser ? { logInByUser: body } : { logInByAccount: body }) });
    const text = await res.text();
    return { status: res.status, text, body: JSON.parse(text), headers: res.headers };
  };
  const clientOf = async (r: Promise<RawResponse>) => {
    const res = await r;
    expect(res.status, res.text).toBe(200);
    return new TestClient(t.url, res.body.inventory.uuid);
  };
  const createAccount = async (name: string, password = 'pw-' + name) => (await admin.call('POST', '/accounts', { params: { name, password: sha512(password) } })).inventory;
  const createUser = async (c: TestClient, name: string, password = 'pw-' + name) => (await c.call('POST', '/accounts/users', { params: { name, password: sha512(password) } })).inventory;
  const setConfig = (name: string, value: string) => admin.call('PUT', `/global-configurations/identity/${name}/actions`, { updateGlobalConfig: { value } });

  beforeAll(async () => {
    const sink = new Writable({ write: (chunk, _enc, done) => { logLines.push(String(chunk)); done(); } });
    t = await startTestNode(kind, { node: { logger: pino({ level: 'trace' }, sink) } });
    admin = await t.login();
  });
  afterAll(async () => t?.stop());

  it('lets an administrator create a normal account that logs in but cannot call admin-only APIs', async () => {
    const acc = await createAccount('tenant-a');
    expect(acc).toMatchObject({ name: 'tenant-a', type: 'Normal' });
    expect(JSON.stringify(acc)).not.toMatch(/password/i);
    const tenant = await clientOf(logIn({ accountName: 'tenant-a', password: sha512('pw-tenant-a') }));
    expectError(await tenant.send('POST', '/zones', { params: { name: 'not-for-tenants' } }), IdentityErrors.PERMISSION_DENIED.code);
    expectError(await tenant.send('POST', '/accounts', { params: { name: 'escalated', password: sha512('x') } }), IdentityErrors.PERMISSION_DENIED.code);
    // Reads are not refused but isolated: a tenant sees its own account only.
    expect((await tenant.call('GET', '/accounts')).inventories.map((a: any) => a.name)).toEqual(['tenant-a']);
    expect(await t.node.ctx.db.selectFrom('zone').select('uuid').where('name', '=', 'not-for-tenants').executeTakeFirst()).toBeUndefined();
    // A duplicate name is refused, not a crash.
    expectError(await admin.send('POST', '/accounts', { params: { name: 'tenant-a', password: sha512('x') } }), 'SYS.1007');
  });

  it('logs users in by account name or uuid; a user without policies may only read', async () => {
    const acc = await createAccount('tenant-b');
    const tenant = await t.login('tenant-b', 'pw-tenant-b');
    const user = await createUser(tenant, 'alice');
    expect(user).toMatchObject({ name: 'alice', accountUuid: acc.uuid });
    const byName = await logIn({ accountName: 'tenant-b', userName: 'alice', password: sha512('pw-alice') }, true);
    expect(byName.status, byName.text).toBe(200);
    expect(byName.body.inventory).toMatchObject({ accountUuid: acc.uuid, userUuid: user.uuid });
    const alice = await clientOf(logIn({ accountUuid: acc.uuid, userName: 'alice', password: sha512('pw-alice') }, true));
    expectError(await logIn({ accountName: 'tenant-a', userName: 'alice', password: sha512('pw-alice') }, true), IdentityErrors.AUTHENTICATION_ERROR.code);
    expect((await alice.send('GET', '/accounts/users')).status).toBe(200);
    expectError(await alice.send('POST', '/accounts/groups', { params: { name: 'g' } }), IdentityErrors.PERMISSION_DENIED.code);
    expectError(await alice.send('POST', '/accounts/users', { params: { name: 'mallory', password: sha512('x') } }), IdentityErrors.PERMISSION_DENIED.code);
  });

  it('applies policies attached to users and groups, and a Deny blocks what an Allow permits', async () => {
    await createAccount('tenant-c');
    const tenant = await t.login('tenant-c', 'pw-tenant-c');
    const bob = await createUser(tenant, 'bob');
    const bobClient = await clientOf(logIn({ accountName: 'tenant-c', userName: 'bob', password: sha512('pw-bob') }, true));
    const createGroup = (name: string) => bobClient.send('POST', '/accounts/groups', { params: { name } });
    expectError(await createGroup('g0'), IdentityErrors.PERMISSION_DENIED.code);

    const allow = (await tenant.call('POST', '/accounts/policies', { params: { name: 'allow-identity', statements: [{ name: 's1', effect: 'Allow', actions: ['org.zstack.header.identity.*'] }] } })).inventory;
    expect(allow.statements).toEqual([{ name: 's1', effect: 'Allow', actions: ['org.zstack.header.identity.*'] }]);
    await tenant.call('POST', `/accounts/users/${bob.uuid}/policies`, { params: { policyUuid: allow.uuid } });
    expect((await createGroup('g1')).status).toBe(200);

    // A Deny through a group wins over the user's own Allow, at once.
    const deny = (await tenant.call('POST', '/accounts/policies', { params: { name: 'deny-groups', statements: [{ effect: 'Deny', actions: ['org.zstack.header.identity.APICreateUserGroupMsg'] }] } })).inventory;
    const group = (await tenant.call('POST', '/accounts/groups', { params: { name: 'restricted' } })).inventory;
    await tenant.call('POST', `/accounts/groups/${group.uuid}/users`, { params: { userUuid: bob.uuid } });
    await tenant.call('POST', `/accounts/groups/${group.uuid}/policies`, { params: { policyUuid: deny.uuid } });
    expectError(await createGroup('g2'), IdentityErrors.PERMISSION_DENIED.code);
    // Still allowed: what the Deny does not name.
    expect((await bobClient.send('PUT', '/accounts/groups/actions', { updateUserGroup: { uuid: group.uuid, description: 'edited by bob' } })).status).toBe(200);

    // Leaving the group lifts the Deny; detaching the Allow takes the right away.
    await tenant.call('DELETE', `/accounts/groups/${group.uuid}/users/${bob.uuid}`);
    expect((await createGroup('g3')).status).toBe(200);
    await tenant.call('DELETE', `/accounts/users/${bob.uuid}/policies/${allow.uuid}`);
    expectError(await createGroup('g4'), IdentityErrors.PERMISSION_DENIED.code);
    const names = (await tenant.call('GET', `/accounts/groups?q=accountUuid=${group.accountUuid}`)).inventories.map((g: any) => g.name).sort();
    expect(names).toEqual(['g1', 'g3', 'restricted']);
  });

  it('takes rights away at once when a policy is detached from a group, or the group or the policy is deleted', async () => {
    await createAccount('tenant-l');
    const tenant = await t.login('tenant-l', 'pw-tenant-l');
    const frank = await createUser(tenant, 'frank');
    const frankClient = await clientOf(logIn({ accountName: 'tenant-l', userName: 'frank', password: sha512('pw-frank') }, true));
    let n = 0;
    const canCreateGroup = async () => (await frankClient.send('POST', '/accounts/groups', { params: { name: `f${n++}` } })).status === 200;
    const policy = (await tenant.call('POST', '/accounts/policies', { params: { name: 'groups-ok', statements: [{ effect: 'Allow', actions: ['org.zstack.header.identity.APICreateUserGroupMsg'] }] } })).inventory;
    const team = (await tenant.call('POST', '/accounts/groups', { params: { name: 'team' } })).inventory;
    await tenant.call('POST', `/accounts/groups/${team.uuid}/users`, { params: { userUuid: frank.uuid } });
    await tenant.call('POST', `/accounts/groups/${team.uuid}/policies`, { params: { policyUuid: policy.uuid } });
    expect(await canCreateGroup()).toBe(true);
    await tenant.call('DELETE', `/accounts/groups/${team.uuid}/policies/${policy.uuid}`);
    expect(await canCreateGroup()).toBe(false);
    await tenant.call('POST', `/accounts/groups/${team.uuid}/policies`, { params: { policyUuid: policy.uuid } });
    expect(await canCreateGroup()).toBe(true);
    await tenant.call('DELETE', `/accounts/groups/${team.uuid}`);
    expect(await canCreateGroup()).toBe(false);
    await tenant.call('POST', `/accounts/users/${frank.uuid}/policies`, { params: { policyUuid: policy.uuid } });
    expect(await canCreateGroup()).toBe(true);
    const listed = (await tenant.call('GET', '/accounts/policies')).inventories;
    expect(listed.map((p: any) => p.name)).toEqual(['groups-ok']);
    expect(listed[0].statements).toBeUndefined(); // lists are in the service's own replies only (docs/decisions)
    await tenant.call('DELETE', `/accounts/policies/${policy.uuid}`);
    expect(await canCreateGroup()).toBe(false);
    expect((await tenant.call('GET', '/accounts/policies')).inventories).toEqual([]);
    const db = t.node.ctx.db;
    for (const table of ['user_policy_ref', 'user_group_policy_ref']) expect(await db.selectFrom(table).select('policyUuid').where('policyUuid', '=', policy.uuid).execute(), table).toEqual([]);
    expect(await db.selectFrom('user_group_user_ref').select('userUuid').where('groupUuid', '=', team.uuid).execute()).toEqual([]);
  });

  it('does not let one account touch the users, groups or policies of another', async () => {
    await createAccount('tenant-d');
    await createAccount('tenant-e');
    const d = await t.login('tenant-d', 'pw-tenant-d');
    const e = await t.login('tenant-e', 'pw-tenant-e');
    const carol = await createUser(d, 'carol');
    const eGroup = (await e.call('POST', '/accounts/groups', { params: { name: 'e-group' } })).inventory;
    // Another account's user is answered as a missing one (a delete of nothing "succeeds", or not found) and deletes nothing.
    const del = await e.send('DELETE', `/accounts/users/${carol.uuid}`);
    expect(del.status === 200 || del.body.error?.code === 'SYS.1003', del.text).toBe(true);
    expectError(await e.send('PUT', '/accounts/users/actions', { updateUser: { uuid: carol.uuid, password: sha512('stolen') } }), 'SYS.1003');
    expectError(await d.send('POST', `/accounts/groups/${eGroup.uuid}/users`, { params: { userUuid: carol.uuid } }), 'SYS.1003');
    expect(await t.node.ctx.db.selectFrom('account_user').select('uuid').where('uuid', '=', carol.uuid).executeTakeFirst()).toBeDefined();
    // Nor see them: each account's queries show its own users and groups only.
    expect((await e.call('GET', '/accounts/users')).inventories).toEqual([]);
    expect((await e.call('GET', '/accounts/groups')).inventories.map((g: any) => g.name)).toEqual(['e-group']);
    expect((await d.call('GET', '/accounts/users')).inventories.map((u: any) => u.name)).toEqual(['carol']);
    expect((await d.call('GET', '/accounts/groups')).inventories).toEqual([]);
  });

  it('changes a password with the old one, resets it without, and a reset ends the sessions at once', async () => {
    await createAccount('tenant-f');
    const tenant = await t.login('tenant-f', 'pw-tenant-f');
    const dave = await createUser(tenant, 'dave');
    const daveLogin = (pw: string) => logIn({ accountName: 'tenant-f', userName: 'dave', password: sha512(pw) }, true);
    const daveClient = await clientOf(daveLogin('pw-dave'));
    expectError(await daveClient.send('PUT', '/accounts/users/actions', { updateUser: { password: sha512('new'), oldPassword: sha512('wrong') } }), IdentityErrors.AUTHENTICATION_ERROR.code);
    expect((await daveClient.send('PUT', '/accounts/users/actions', { updateUser: { password: sha512('pw-dave-2'), oldPassword: sha512('pw-dave') } })).status).toBe(200);
    expectError(await daveLogin('pw-dave'), IdentityErrors.AUTHENTICATION_ERROR.code);
    expect((await daveLogin('pw-dave-2')).status).toBe(200);
    // The account resets its user's password: the user's sessions end at once.
    await tenant.call('PUT', '/accounts/users/actions', { updateUser: { uuid: dave.uuid, password: sha512('pw-dave-3') } });
    expectError(await daveClient.send('GET', '/accounts/users'), IdentityErrors.INVALID_SESSION.code);
    expect((await daveLogin('pw-dave-3')).status).toBe(200);
    // An account changing its own password gives the old one; an administrator resets it.
    const accUuid = dave.accountUuid;
    expectError(await tenant.send('PUT', `/accounts/${accUuid}`, { updateAccount: { password: sha512('x') } }), IdentityErrors.AUTHENTICATION_ERROR.code);
    await admin.call('PUT', `/accounts/${accUuid}`, { updateAccount: { password: sha512('reset-by-admin') } });
    expectError(await tenant.send('GET', '/accounts/users'), IdentityErrors.INVALID_SESSION.code);
    expect((await logIn({ accountName: 'tenant-f', password: sha512('reset-by-admin') })).status).toBe(200);
  });

  it('ends a session at once on logout and when it expires', async () => {
    await createAccount('tenant-g');
    const c = await t.login('tenant-g', 'pw-tenant-g');
    expect((await c.send('GET', '/accounts/users')).status).toBe(200);
    await c.call('DELETE', `/accounts/sessions/${c.session}`);
    expectError(await c.send('GET', '/accounts/users'), IdentityErrors.INVALID_SESSION.code);

    const d = await t.login('tenant-g', 'pw-tenant-g');
    await t.node.ctx.db.updateTable('session').set({ expiredDate: Date.now() + 400 }).where('uuid', '=', d.session).execute();
    expect((await d.send('GET', '/accounts/users')).status).toBe(200);
    await new Promise((r) => setTimeout(r, 500));
    expectError(await d.send('GET', '/accounts/users'), IdentityErrors.INVALID_SESSION.code);
  });

  it('caps the open sessions of an account (identity.session.maxConcurrent)', async () => {
    await createAccount('tenant-h');
    await setConfig('session.maxConcurrent', '2');
    try {
      const first = await t.login('tenant-h', 'pw-tenant-h');
      await t.login('tenant-h', 'pw-tenant-h');
      expectError(await logIn({ accountName: 'tenant-h', password: sha512('pw-tenant-h') }), IdentityErrors.AUTHENTICATION_ERROR.code);
      await first.call('DELETE', `/accounts/sessions/${first.session}`);
      expect((await logIn({ accountName: 'tenant-h', password: sha512('pw-tenant-h') })).status).toBe(200);
    } finally {
      await setConfig('session.maxConcurrent', '500');
    }
  });

  it('locks an account out after repeated wrong passwords, even for the right one, until the lock runs out', async () => {
    await createAccount('tenant-i');
    await setConfig('login.maxFailures', '3');
    await setConfig('login.lockSeconds', '1');
    try {
      const attempt = (pw: string) => logIn({ accountName: 'tenant-i', password: sha512(pw) });
      for (let i = 0; i < 3; i++) expectError(await attempt('wrong'), IdentityErrors.AUTHENTICATION_ERROR.code);
      const locked = await attempt('pw-tenant-i');
      expectError(locked, IdentityErrors.AUTHENTICATION_ERROR.code);
      expect(locked.body.error.details).toMatch(/locked/);
      await new Promise((r) => setTimeout(r, 1100));
      expect((await attempt('pw-tenant-i')).status).toBe(200);
      // A success clears the count: two more failures do not lock.
      for (let i = 0; i < 2; i++) expectError(await attempt('wrong'), IdentityErrors.AUTHENTICATION_ERROR.code);
      expect((await attempt('pw-tenant-i')).status).toBe(200);
      // Wrong passwords fired at once are all counted: a burst cannot buy more tries than allowed.
      await Promise.all(Array.from({ length: 6 }, () => attempt('wrong')));
      expect((await attempt('pw-tenant-i')).body.error?.details).toMatch(/locked/);
    } finally {
      await setConfig('login.maxFailures', '5');
      await setConfig('login.lockSeconds', '300');
    }
  });

  it('deletes an account with its users, groups, policies, access keys and sessions, at once', async () => {
    const acc = await createAccount('tenant-j');
    const tenant = await t.login('tenant-j', 'pw-tenant-j');
    const erin = await createUser(tenant, 'erin');
    const erinClient = await clientOf(logIn({ accountName: 'tenant-j', userName: 'erin', password: sha512('pw-erin') }, true));
    const group = (await tenant.call('POST', '/accounts/groups', { params: { name: 'j' } })).inventory;
    const policy = (await tenant.call('POST', '/accounts/policies', { params: { name: 'p', statements: [{ effect: 'Allow', actions: ['*'] }] } })).inventory;
    await tenant.call('POST', `/accounts/groups/${group.uuid}/users`, { params: { userUuid: erin.uuid } });
    await tenant.call('POST', `/accounts/groups/${group.uuid}/policies`, { params: { policyUuid: policy.uuid } });
    await tenant.call('POST', '/accesskeys', { params: { accountUuid: acc.uuid, userUuid: erin.uuid } });

    await admin.call('DELETE', `/accounts/${acc.uuid}`);
    expectError(await tenant.send('GET', '/accounts/users'), IdentityErrors.INVALID_SESSION.code);
    expectError(await erinClient.send('GET', '/accounts/users'), IdentityErrors.INVALID_SESSION.code);
    const db = t.node.ctx.db;
    for (const [table, column] of [['account', 'uuid'], ['account_user', 'accountUuid'], ['user_group', 'accountUuid'], ['policy', 'accountUuid'], ['access_key', 'accountUuid'], ['session', 'accountUuid']] as const) {
      expect(await db.selectFrom(table).select(column).where(column, '=', acc.uuid).execute(), table).toEqual([]);
    }
    for (const table of ['user_group_user_ref', 'user_policy_ref', 'user_group_policy_ref']) {
      const col = table === 'user_group_user_ref' ? 'userUuid' : 'policyUuid';
      expect(await db.selectFrom(table).select(col).where(col, '=', table === 'user_group_user_ref' ? erin.uuid : policy.uuid).execute(), table).toEqual([]);
    }
    // Deleting it again succeeds (ZStack's idempotent deletes); the initial administrator cannot be deleted.
    expect((await admin.send('DELETE', `/accounts/${acc.uuid}`)).status).toBe(200);
    expectError(await admin.send('DELETE', '/accounts/36c27e8ff05c4780bf6d2fa65700f22e'), 'SYS.1007');
  });

  it('never leaves a user, group, policy or key behind in an account deleted while they were being created', async () => {
    const acc = await createAccount('tenant-k');
    const tenant = await t.login('tenant-k', 'pw-tenant-k');
    const creates = Array.from({ length: 4 }, (_, i) => [
      tenant.send('POST', '/accounts/users', { params: { name: `racer-${i}`, password: sha512('r') } }),
      tenant.send('POST', '/accounts/groups', { params: { name: `racer-${i}` } }),
      tenant.send('POST', '/accounts/policies', { params: { name: `racer-${i}`, statements: [{ effect: 'Allow', actions: ['*'] }] } }),
      tenant.send('POST', '/accesskeys', { params: { accountUuid: acc.uuid, userUuid: acc.uuid } }),
    ]).flat();
    const deletion = admin.send('DELETE', `/accounts/${acc.uuid}`);
    const results = await Promise.all([...creates, deletion]);
    expect(results.at(-1)!.status).toBe(200);
    for (const r of results.slice(0, -1)) expect([200, 503], r.text).toContain(r.status); // made before the deletion, or refused after it
    const db = t.node.ctx.db;
    for (const table of ['account_user', 'user_group', 'policy', 'access_key', 'session']) {
      expect(await db.selectFrom(table).select('accountUuid').where('accountUuid', '=', acc.uuid).execute(), table).toEqual([]);
    }
  });

  it('never writes a password hash or a session uuid into the logs or into replies', async () => {
    // Session APIs name sessions in their parameters: they must not reach the logs either.
    const s = await t.login();
    expect((await s.send('GET', `/accounts/sessions/${s.session}/valid`)).body.valid).toBe(true);
    expect((await s.send('PUT', `/accounts/sessions/${s.session}/renew`, { renewSession: { duration: 600 } })).status).toBe(200);
    await s.call('DELETE', `/accounts/sessions/${s.session}`);
    expectError(await s.send('GET', '/accounts/users'), IdentityErrors.INVALID_SESSION.code);
    const sessions = [s.session, ...(await t.node.ctx.db.selectFrom('session').select('uuid').execute()).map((r) => String(r.uuid))];
    const logs = logLines.join('');
    expect(logs.length).toBeGreaterThan(1000); // the node did log at trace level
    for (const pw of ['password', 'pw-tenant-a', 'pw-alice', 'pw-dave-2', 'reset-by-admin']) expect(logs).not.toContain(sha512(pw));
    for (const s of sessions) expect(logLines.filter((l) => l.includes(s))).toEqual([]);
    const users = await admin.send('GET', '/accounts/users');
    expect(users.text).not.toMatch(/scrypt|passwordHash|password/);
  });
});
