import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { IdentityErrors } from '../src/core/errors/index.ts';
import { flushAudit } from '../src/services/audit/index.ts';
import { formatSignedDate, signRequest } from '../src/services/identity/signature.ts';
import { sha512, startTestNode, type TestClient, type TestNode } from './support/test-node.ts';

/**
 * Every API call is recorded: who (account, user), from where, what (API and parameters with secrets
 * masked), the outcome and the duration; administrators query the record, tenants cannot.
 */
describe.each(testDatabaseKinds())('audit of API calls on %s', (kind) => {
  let t: TestNode;
  let admin: TestClient;
  let tenant: TestClient;
  let tenantUuid: string;

  const audits = async (q: string) => {
    await flushAudit(t.node.ctx);
    return (await admin.call('GET', `/audits?${q}`)).inventories as any[];
  };

  beforeAll(async () => {
    t = await startTestNode(kind);
    admin = await t.login();
    tenantUuid = (await admin.call('POST', '/accounts', { params: { name: 'audited', password: sha512('secret-pw') } })).inventory.uuid;
    tenant = await t.login('audited', 'secret-pw');
  });
  afterAll(async () => t?.stop());

  it('records who called what, from where, with the outcome and duration, secrets masked', async () => {
    await tenant.call('POST', '/accounts/users', { params: { name: 'audited-user', password: sha512('user-pw') } });
    const rows = await audits(`q=apiName=CreateUser&q=accountUuid=${tenantUuid}`);
    expect(rows).toHaveLength(1);
    const r = rows[0];
    expect(r).toMatchObject({ apiName: 'CreateUser', accountUuid: tenantUuid, userUuid: tenantUuid, clientIp: '127.0.0.1', success: true, error: null });
    expect(r.durationMs).toBeGreaterThanOrEqual(0);
    expect(r.apiId).toMatch(/^[0-9a-f]{32}$/);
    const params = JSON.parse(r.params);
    expect(params.name).toBe('audited-user');
    expect(params.password).toBe('*****');
    expect(r.params).not.toContain(sha512('user-pw'));
  });

  it('records refused calls and failed logins, with the error and without the password', async () => {
    const denied = await tenant.send('POST', '/zones', { params: { name: 'no' } });
    expect(denied.body.error.code).toBe(IdentityErrors.PERMISSION_DENIED.code);
    const zoneRows = await audits(`q=apiName=CreateZone&q=accountUuid=${tenantUuid}`);
    expect(zoneRows.map((r) => [r.success, r.error])).toEqual([[false, IdentityErrors.PERMISSION_DENIED.code]]);

    const bad = await fetch(`${t.url}/zstack/v1/accounts/login`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ logInByAccount: { accountName: 'audited', password: sha512('guess') } }) });
    expect(bad.status).toBe(503);
    const logins = await audits('q=apiName=LogInByAccount&q=success=false');
    const mine = logins.filter((r) => JSON.parse(r.params).accountName === 'audited');
    expect(mine).toHaveLength(1);
    expect(mine[0].error).toBe(IdentityErrors.AUTHENTICATION_ERROR.code);
    expect(mine[0].params).not.toContain(sha512('guess'));
    // A successful login is attributed to the account it opened a session for.
    const ok = (await audits(`q=apiName=LogInByAccount&q=success=true&q=accountUuid=${tenantUuid}`)).length;
    expect(ok).toBeGreaterThanOrEqual(1);
  });

  it('records what a tenant asked for on another account\'s resource, not the uuid it was answered with', async () => {
    await admin.call('POST', '/accounts', { params: { name: 'audited-b', password: sha512('secret-b') } });
    const other = await t.login('audited-b', 'secret-b');
    const sg = (await other.call('POST', '/security-groups', { params: { name: 'b-sg' } })).inventory;
    const attempt = await tenant.send('DELETE', `/security-groups/${sg.uuid}`);
    expect(attempt.status).toBe(200); // answered as a delete of a uuid that does not exist
    const rows = await audits(`q=apiName=DeleteSecurityGroup&q=accountUuid=${tenantUuid}`);
    expect(rows).toHaveLength(1);
    expect(JSON.parse(rows[0].params).uuid).toBe(sg.uuid);
    expect((await other.call('GET', `/security-groups/${sg.uuid}`)).inventories).toHaveLength(1);
  });

  it('answers an admin-only call with the permission error before any other check', async () => {
    const mine = (await tenant.call('POST', '/security-groups', { params: { name: 'mine-sg' } })).inventory;
    const denied = await tenant.send('POST', '/zones', { params: { name: 'taken-uuid', resourceUuid: mine.uuid } });
    expect(denied.body.error.code).toBe(IdentityErrors.PERMISSION_DENIED.code);
    const rows = (await audits(`q=apiName=CreateZone&q=accountUuid=${tenantUuid}`)).filter((r) => JSON.parse(r.params).name === 'taken-uuid');
    expect(rows.map((r) => [r.success, r.error])).toEqual([[false, IdentityErrors.PERMISSION_DENIED.code]]);
  });

  it('never stores a password, secret or session in the record', async () => {
    const key = (await tenant.call('POST', '/accesskeys', { params: { accountUuid: tenantUuid, userUuid: tenantUuid } })).inventory;
    const other = await t.login('audited', 'secret-pw');
    await other.call('PUT', `/accounts/sessions/${other.session}/renew`, { renewSession: { duration: 600 } });
    await other.call('DELETE', `/accounts/sessions/${other.session}`);
    await flushAudit(t.node.ctx);
    const all = JSON.stringify(await t.node.ctx.db.selectFrom('audit_log').selectAll().execute());
    for (const api of ['CreateAccessKey', 'RenewSession', 'LogOut']) expect(all).toContain(api);
    for (const secret of [key.AccessKeySecret, sha512('secret-pw'), sha512('user-pw'), sha512('password'), tenant.session, admin.session, other.session]) expect(all).not.toContain(secret);
  });

  it('records a refused signed request as a failed call of the API it was for, without the signature', async () => {
    const key = (await tenant.call('POST', '/accesskeys', { params: { accountUuid: tenantUuid, userUuid: tenantUuid } })).inventory;
    const date = formatSignedDate(Date.now());
    const signature = signRequest('not-the-secret', 'GET', date, '/v1/accounts/groups');
    const r = await fetch(`${t.url}/zstack/v1/accounts/groups`, { headers: { Authorization: `ZStack ${key.AccessKeyID}:${signature}`, date } });
    expect(r.status).toBe(503);
    const rows = await audits(`q=accessKeyId=${key.AccessKeyID}`);
    expect(rows.map((x) => [x.apiName, x.success, x.error, x.accountUuid, x.clientIp])).toEqual([['QueryUserGroup', false, IdentityErrors.AUTHENTICATION_ERROR.code, tenantUuid, '127.0.0.1']]);
    expect(JSON.stringify(rows)).not.toContain(signature);
  });

  it('is for administrators only', async () => {
    const r = await tenant.send('GET', '/audits');
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe(IdentityErrors.PERMISSION_DENIED.code);
  });
});
