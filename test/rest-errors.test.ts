import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { newUuid } from '../src/core/util/uuid.ts';
import { sha512, startTestNode, type TestNode } from './support/test-node.ts';
import { gson, sdkPoll, sdkRequest, type WireResponse } from './support/rest-sdk-wire.ts';

/**
 * Two kinds of failure on the wire, as ZStack's RestServer answers them: transport problems
 * (the request cannot be read) are plain-text 4xx; API errors are 503 `{"error":{code,description,details}}`.
 */
function expectPlainText(r: WireResponse, status: number, text: RegExp): void {
  expect(r.status, r.text).toBe(status);
  expect(String(r.headers['content-type'])).toMatch(/^text\/plain/);
  expect(r.text).toMatch(text);
}

function expectApiError(r: WireResponse, code: string): { code: string; description: string; details?: string } {
  expect(r.status, r.text).toBe(503);
  expect(String(r.headers['content-type'])).toMatch(/^application\/json/);
  expect(Object.keys(r.json)).toEqual(['error']);
  expect(r.json.error).toMatchObject({ code, description: expect.any(String) });
  expect(r.json.error.description.length).toBeGreaterThan(0);
  return r.json.error;
}

describe.each(testDatabaseKinds())('REST errors on %s', (kind) => {
  let t: TestNode;
  let session: string;
  const send = (method: string, target: string, body?: string, headers?: Record<string, string>) => sdkRequest(t.url, method, `/zstack/v1${target}`, { session, body, headers });

  beforeAll(async () => {
    t = await startTestNode(kind);
    session = (await t.login()).session;
  });
  afterAll(async () => t?.stop());

  describe('transport errors are plain text', () => {
    it('answers malformed JSON with 400', async () => {
      expectPlainText(await send('POST', '/zones', '{"params":{"name":"z1"'), 400, /malformed JSON/);
    });

    it('answers a body without its wrapper key with 400 naming the key', async () => {
      expectPlainText(await send('POST', '/zones', gson({ name: 'z1' })), 400, /"params"/);
    });

    it('answers an action body naming no known action with 400 listing the accepted keys', async () => {
      expectPlainText(await send('PUT', `/zones/${newUuid()}/actions`, gson({ renameZone: { name: 'x' } })), 400, /"updateZone".*"changeZoneState"|"changeZoneState".*"updateZone"/);
    });

    it('answers an unknown route with 404 "no api mapping"', async () => {
      expectPlainText(await send('GET', '/no-such-resources'), 404, /^no api mapping to GET \/zstack\/v1\/no-such-resources$/);
      expectPlainText(await send('POST', '/zones/extra/segments', gson({ params: {} })), 404, /no api mapping/);
    });

    it('answers a call without Authorization with 400', async () => {
      const r = await sdkRequest(t.url, 'GET', '/zstack/v1/zones', { headers: {} });
      expectPlainText(r, 400, /Authorization/);
    });

    it('answers a malformed Authorization header with 400', async () => {
      for (const auth of ['Bearer abc', 'OAuth', `OAuth ${session} extra`, session]) {
        const r = await sdkRequest(t.url, 'GET', '/zstack/v1/zones', { headers: { Authorization: auth } });
        expectPlainText(r, 400, /Authorization/);
      }
    });
  });

  describe('API errors are JSON 503 {"error":{…}}', () => {
    it('refuses an unknown session with ID.1002', async () => {
      expectApiError(await sdkRequest(t.url, 'GET', '/zstack/v1/zones', { session: newUuid() }), 'ID.1002');
    });

    it('refuses "OAuth null" on anything but a poll with ID.1002', async () => {
      expectApiError(await sdkRequest(t.url, 'GET', '/zstack/v1/zones', { headers: { Authorization: 'OAuth null' } }), 'ID.1002');
    });

    it('refuses a wrong password and an unknown account alike with ID.1001', async () => {
      const wrong = expectApiError(await sdkRequest(t.url, 'PUT', '/zstack/v1/accounts/login', { body: gson({ logInByAccount: { accountName: 'admin', password: sha512('wrong') } }) }), 'ID.1001');
      const unknown = expectApiError(await sdkRequest(t.url, 'PUT', '/zstack/v1/accounts/login', { body: gson({ logInByAccount: { accountName: 'nobody', password: sha512('password') } }) }), 'ID.1001');
      expect(unknown.details).toBe(wrong.details);
    });

    it('lists every missing, unknown and wrongly typed parameter in one SYS.1007', async () => {
      const r = await send('POST', '/zones', gson({ params: { description: 5, isDefault: 'yes', colour: 'red' } }));
      const err = expectApiError(r, 'SYS.1007');
      expect(err.details).toMatch(/missing mandatory parameter \[name\]/);
      expect(err.details).toMatch(/unknown parameter \[colour\]/);
      expect(err.details).toMatch(/\[description\]/);
      expect(err.details).toMatch(/\[isDefault\]/);
    });

    it('refuses a wrongly typed query-string value with SYS.1007', async () => {
      const err = expectApiError(await send('GET', '/zones?limit=ten'), 'SYS.1007');
      expect(err.details).toMatch(/\[limit\]/);
    });

    it('refuses a malformed path uuid with SYS.1007 before running anything', async () => {
      const err = expectApiError(await send('PUT', '/zones/not-a-uuid/actions', gson({ updateZone: { name: 'x' } })), 'SYS.1007');
      expect(err.details).toMatch(/\[uuid\]/);
    });

    it('fails an action on an unknown uuid with SYS.1003 when polled', async () => {
      const missing = newUuid();
      const first = await send('PUT', `/zones/${missing}/actions`, gson({ changeZoneState: { stateEvent: 'disable' } }));
      expect(first.status, first.text).toBe(202);
      const done = await sdkPoll(first.json.location, `OAuth ${session}`);
      const err = expectApiError(done, 'SYS.1003');
      expect(err.details).toContain(missing);
    });
  });
});
