import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { IdentityErrors } from '../src/core/errors/index.ts';
import { ManagementNode } from '../src/node/management-node.ts';
import { sha512, startTestNode, TestClient, type RawResponse, type TestNode } from './support/test-node.ts';

const hasMysql = testDatabaseKinds().includes('mysql');

/**
 * Two management nodes on one database: a permission change, a password reset or a logout made on
 * one node holds on the other at once (both warm caches are evicted by events before the reply).
 */
describe.skipIf(!hasMysql)('identity across two management nodes', () => {
  let t: TestNode;
  let b: ManagementNode;

  const at = (node: { url: string }, session: string) => new TestClient(node.url, session);
  const userLogin = async (url: string) => {
    const res = await fetch(`${url}/zstack/v1/accounts/users/login`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ logInByUser: { accountName: 'two-nodes', userName: 'walker', password: sha512('w') } }) });
    return ((await res.json()) as any).inventory.uuid as string;
  };
  const expectError = (r: RawResponse, code: string) => {
    expect(r.status, r.text).toBe(503);
    expect(r.body.error.code, r.text).toBe(code);
  };

  beforeAll(async () => {
    t = await startTestNode('mysql');
    b = await ManagementNode.start({ dbUrl: t.db.url, port: 0, host: '127.0.0.1', logger: pino({ level: 'silent' }) });
    await t.node.refreshPeers();
  });
  afterAll(async () => {
    await b?.stop();
    await t?.stop();
  });

  it('applies a policy change, a password reset and a logout made on node A on node B at once', async () => {
    const admin = await t.login();
    await admin.call('POST', '/accounts', { params: { name: 'two-nodes', password: sha512('t') } });
    const tenantA = await t.login('two-nodes', 't');
    const user = (await tenantA.call('POST', '/accounts/users', { params: { name: 'walker', password: sha512('w') } })).inventory;
    const policy = (await tenantA.call('POST', '/accounts/policies', { params: { name: 'groups', statements: [{ effect: 'Allow', actions: ['org.zstack.header.identity.APICreateUserGroupMsg'] }] } })).inventory;
    await tenantA.call('POST', `/accounts/users/${user.uuid}/policies`, { params: { policyUuid: policy.uuid } });

    const session = await userLogin(t.url);
    const userOnB = at(b, session);
    // Warm node B's caches (session and statements), then change things on node A.
    expect((await userOnB.send('POST', '/accounts/groups', { params: { name: 'b1' } })).status).toBe(200);
    await tenantA.call('DELETE', `/accounts/users/${user.uuid}/policies/${policy.uuid}`);
    expectError(await userOnB.send('POST', '/accounts/groups', { params: { name: 'b2' } }), IdentityErrors.PERMISSION_DENIED.code);

    expect((await userOnB.send('GET', '/accounts/groups')).status).toBe(200);
    await tenantA.call('PUT', '/accounts/users/actions', { updateUser: { uuid: user.uuid, password: sha512('w2') } });
    expectError(await userOnB.send('GET', '/accounts/groups'), IdentityErrors.INVALID_SESSION.code);

    // A logout on node B ends the session on node A.
    const tenantOnA = await t.login('two-nodes', 't');
    expect((await tenantOnA.send('GET', '/accounts/users')).status).toBe(200);
    await at(b, tenantOnA.session).call('DELETE', `/accounts/sessions/${tenantOnA.session}`);
    expectError(await tenantOnA.send('GET', '/accounts/users'), IdentityErrors.INVALID_SESSION.code);
  });
});
