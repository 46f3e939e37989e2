import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCatalog } from '../src/api/catalog.ts';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { newUuid } from '../src/core/util/uuid.ts';
import { sha512, startTestNode, type TestNode } from './support/test-node.ts';
import { gson, okhttpQuery, sdkPoll, sdkRequest } from './support/rest-sdk-wire.ts';
import { zoneGate, type ZoneGate } from './support/rest-test-modules.ts';

/**
 * The REST API as ZStack's Java SDK speaks it (reference/zstack-java-sdk-wire.md): every request
 * here is built by hand exactly as OkHttp + Gson send it, and every reply is checked for what the
 * SDK needs back.
 */
const ISO_Z = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?Z$/;
const ZONE_CLASS = 'org.zstack.header.zone.ZoneInventory';

describe.each(testDatabaseKinds())('the ZStack v1 wire format on %s', (kind) => {
  let t: TestNode;
  let gate: ZoneGate;
  let session: string;

  const send = (method: string, target: string, body?: unknown, headers?: Record<string, string>) =>
    sdkRequest(t.url, method, `/zstack/v1${target}`, { session, body: body === undefined ? undefined : gson(body), headers });

  /** A call the SDK way: first request, then polls with `OAuth null` until the job is done. */
  async function asyncCall(method: string, target: string, body?: unknown): Promise<any> {
    const first = await send(method, target, body);
    expect(first.status, first.text).toBe(202);
    const done = await sdkPoll(first.json.location, 'OAuth null');
    expect(done.status, done.text).toBe(200);
    return done.json;
  }

  const createZone = async (name: string, extra: Record<string, unknown> = {}) => (await asyncCall('POST', '/zones', { params: { name, ...extra } })).inventory;

  beforeAll(async () => {
    gate = zoneGate();
    t = await startTestNode(kind, { modules: [gate.module] });
    session = (await t.login()).session;
  });
  afterAll(async () => {
    gate?.open();
    await t?.stop();
  });

  it('logs in with PUT /accounts/login, the SHA-512 hex, an X-Job-UUID and no Authorization, answering an unwrapped inventory', async () => {
    const body = `{"logInByAccount":{"password":"${sha512('password')}","accountName":"admin"}}`;
    const r = await sdkRequest(t.url, 'PUT', '/zstack/v1/accounts/login', { body });
    expect(r.status, r.text).toBe(200);
    expect(Object.keys(r.json)).not.toContain('value');
    expect(r.json.inventory).toMatchObject({ uuid: expect.stringMatching(/^[0-9a-f]{32}$/), accountUuid: expect.any(String), userUuid: expect.any(String), userType: expect.any(String) });
    expect(r.json.inventory.expiredDate).toMatch(ISO_Z);
    expect(r.json.inventory.createDate).toMatch(ISO_Z);
    expect(Date.parse(r.json.inventory.expiredDate)).toBeGreaterThan(Date.now());
  });

  it('refuses a login with the plain password: the SDK sends the field as given and only the SHA-512 hex is a credential', async () => {
    const r = await sdkRequest(t.url, 'PUT', '/zstack/v1/accounts/login', { body: gson({ logInByAccount: { password: 'password', accountName: 'admin' } }) });
    expect(r.status).toBe(503);
  });

  it('accepts a Gson-escaped create body and answers 202 with an absolute api-jobs location named by the X-Job-UUID, then 202 {} while running, then 200 {"inventory":…}', async () => {
    const jobUuid = newUuid();
    const body = '{"params":{"isDefault":true,"name":"gated-zone 1","description":"desc \\u003c\\u0026\\u0027\\u003d\\u003e ü"}}';
    const first = await sdkRequest(t.url, 'POST', '/zstack/v1/zones', { session, body, jobUuid });
    expect(first.status, first.text).toBe(202);
    expect(first.json.location).toBe(`${t.url}/zstack/v1/api-jobs/${jobUuid}`);
    expect(Number.isInteger(first.json.apiTimeout) && first.json.apiTimeout > 0).toBe(true);

    await gate.waiting();
    const running = await sdkRequest(t.url, 'GET', `/zstack/v1/api-jobs/${jobUuid}`, { jobUuid: null, headers: { Authorization: 'OAuth null' } });
    expect(running.status).toBe(202);
    expect(running.json).toEqual({});

    gate.open();
    const done = await sdkPoll(first.json.location, 'OAuth null');
    gate.close();
    expect(done.status, done.text).toBe(200);
    const zone = done.json.inventory;
    expect(zone).toMatchObject({ name: 'gated-zone 1', description: 'desc <&\'=> ü', isDefault: true, state: 'Enabled', type: 'zstack' });
    expect(zone.createDate).toMatch(ISO_Z);
    expect(zone.lastOpDate).toMatch(ISO_Z);
    // A poll repeated after completion gives the same result (the SDK may poll once more).
    const again = await sdkRequest(t.url, 'GET', `/zstack/v1/api-jobs/${jobUuid}`, { jobUuid: null });
    expect(again.status).toBe(200);
    expect(again.json.inventory.uuid).toBe(zone.uuid);
  });

  it('sends booleans as JSON true/false, never 0/1', async () => {
    const zone = await createZone('bool-zone');
    expect(zone.isDefault).toBe(false);
    const q = await send('GET', `/zones?q=${okhttpQuery(`uuid=${zone.uuid}`)}`);
    expect(q.text).toContain('"isDefault":false');
  });

  it('runs updateZone and changeZoneState as PUT on the same /zones/{uuid}/actions URL, told apart by the wrapper key', async () => {
    const zone = await createZone('zone to act on');
    const updated = await asyncCall('PUT', `/zones/${zone.uuid}/actions`, { updateZone: { name: 'zone 1 renamed', description: 'new' } });
    expect(updated.inventory).toMatchObject({ uuid: zone.uuid, name: 'zone 1 renamed', description: 'new', state: 'Enabled' });
    const disabled = await asyncCall('PUT', `/zones/${zone.uuid}/actions`, { changeZoneState: { stateEvent: 'disable' } });
    expect(disabled.inventory).toMatchObject({ uuid: zone.uuid, name: 'zone 1 renamed', state: 'Disabled' });
  });

  it('deletes with DELETE /zones/{uuid}?deleteMode=Permissive and no body', async () => {
    const zone = await createZone('zone to delete');
    const done = await asyncCall('DELETE', `/zones/${zone.uuid}?deleteMode=Permissive`);
    expect(done.inventory).toBeUndefined();
    const after = await send('GET', `/zones/${zone.uuid}`);
    expect(after.json.inventories).toEqual([]);
  });

  it('answers GET /zones/{uuid} with that one zone and its schema entry', async () => {
    const zone = await createZone('by-uuid zone');
    await createZone('another zone');
    const r = await send('GET', `/zones/${zone.uuid}`);
    expect(r.status, r.text).toBe(200);
    expect(r.json.inventories.map((z: any) => z.uuid)).toEqual([zone.uuid]);
    expect(r.json.schema).toEqual({ 'inventories[0]': ZONE_CLASS });
  });

  it('answers the SDK\'s full query string (repeated q, limit, start, replyWithCount, sort=-f, fields=a%2Cb) with the fields asked, total and schema', async () => {
    const z1 = await createZone('zone 1');
    const target = `/zones?q=name%3Dzone%201&q=uuid%3F%3D${z1.uuid}%2Cabc&q=name%7E%3Dzone%25&limit=10&start=0&replyWithCount=true&sort=-createDate&fields=uuid%2Cname%2CcreateDate`;
    const r = await send('GET', target);
    expect(r.status, r.text).toBe(200);
    expect(r.json.inventories).toEqual([{ uuid: z1.uuid, name: 'zone 1', createDate: z1.createDate }]);
    expect(r.json.total).toBe(1);
    expect(r.json.schema).toEqual({ 'inventories[0]': ZONE_CLASS });
  });

  it('answers ?count=true&sort=name with only the total', async () => {
    const all = await send('GET', '/zones');
    const r = await send('GET', '/zones?count=true&sort=name');
    expect(r.status, r.text).toBe(200);
    expect(r.json.total).toBe(all.json.inventories.length);
    expect(r.json.inventories).toBeUndefined();
  });

  it('names every element in the schema map, one inventories[i] key per element, in order', async () => {
    for (const n of ['list-c', 'list-a', 'list-b']) await createZone(n);
    const r = await send('GET', `/zones?q=${okhttpQuery('name~=list-%')}&sort=${okhttpQuery('+name')}`);
    expect(r.json.inventories.map((z: any) => z.name)).toEqual(['list-a', 'list-b', 'list-c']);
    expect(Object.keys(r.json.schema)).toEqual(['inventories[0]', 'inventories[1]', 'inventories[2]']);
    expect(new Set(Object.values(r.json.schema))).toEqual(new Set([ZONE_CLASS]));
  });

  it('decodes OkHttp-encoded values containing + & / ? # % and non-ASCII exactly', async () => {
    const description = 'a b+c&d=e x/y?z#w 50% 中文ü';
    const zone = await createZone('区域+1', { description });
    const byDescription = await send('GET', `/zones?q=${okhttpQuery(`description=${description}`)}`);
    expect(byDescription.json.inventories.map((z: any) => z.uuid)).toEqual([zone.uuid]);
    const byName = await send('GET', `/zones?q=${okhttpQuery('name=区域+1')}`);
    expect(byName.json.inventories.map((z: any) => z.uuid)).toEqual([zone.uuid]);
    // `%2550%25` is the SDK's encoding of the LIKE pattern %50%.
    const like = await send('GET', '/zones?q=description%7E%3D%2550%25');
    expect(like.json.inventories.map((z: any) => z.uuid)).toEqual([zone.uuid]);
    const notEqual = await send('GET', `/zones?q=name%21%3Dx%2Fy%3Fz%23w&q=uuid%3D${zone.uuid}`);
    expect(notEqual.json.inventories.map((z: any) => z.uuid)).toEqual([zone.uuid]);
  });

  it('decodes query strings with form rules: a literal + is a space', async () => {
    const zone = await createZone('plus as space');
    const r = await send('GET', '/zones?q=name%3Dplus+as+space');
    expect(r.json.inventories.map((z: any) => z.uuid)).toEqual([zone.uuid]);
  });

  it('accepts the SDK\'s third example verbatim (is null, not null, ?= lists, dates, groupBy, filterName)', async () => {
    const target = '/zones?q=name%3Da%20b%2Bc%26d%3De&q=description%7E%3D%2550%25&q=name%21%3Dx%2Fy%3Fz%23w&q=name%3D%E4%B8%AD%E6%96%87%C3%BC&q=state%3F%3DEnabled%2CDisabled&q=createDate%3E%3D2024-10-17%2010%3A00%3A00&q=description%20is%20null&q=uuid%20not%20null&groupBy=state&filterName=f1&sort=name';
    const r = await send('GET', target);
    expect(r.status, r.text).toBe(200);
    expect(r.json.inventories).toEqual([]);
    expect(r.json.schema).toEqual({});
  });

  it('finds zones by "is null" and "?=" conditions as decoded from the SDK encoding', async () => {
    const zone = await createZone('no description zone');
    const r = await send('GET', `/zones?q=description%20is%20null&q=state%3F%3DEnabled%2CDisabled&q=uuid%3D${zone.uuid}`);
    expect(r.json.inventories.map((z: any) => z.uuid)).toEqual([zone.uuid]);
  });

  it('lists every API of the catalog in /zstack/v1/openapi.json under its method and path, with its body key', async () => {
    const r = await sdkRequest(t.url, 'GET', '/zstack/v1/openapi.json', { jobUuid: null });
    expect(r.status).toBe(200);
    const paths = r.json.paths as Record<string, Record<string, any>>;
    for (const api of apiCatalog) {
      const op = paths[`/zstack/v1${api.path}`]?.[api.method.toLowerCase()];
      expect(op, `${api.name}: ${api.method} ${api.path}`).toBeDefined();
      // Several actions share `PUT …/actions`: each must still be named and have its wrapper key documented there.
      expect(JSON.stringify(op), `${api.name} at ${api.method} ${api.path}`).toContain(`"${api.name}"`);
      if (api.bodyKey !== null) expect(JSON.stringify(op.requestBody), `${api.name} body`).toContain(`"${api.bodyKey}"`);
      // …and every query API's by-uuid form, next to whatever else lives on that path (DELETE /zones/{uuid}).
      if (api.query) expect(paths[`/zstack/v1${api.path}/{uuid}`]?.get, `${api.name} by uuid`).toBeDefined();
    }
  });

  it('exposes strato_queue_wait_seconds and strato_bus_messages_handled_total on /metrics', async () => {
    await createZone('metrics zone');
    const r = await sdkRequest(t.url, 'GET', '/metrics', { jobUuid: null });
    expect(r.status).toBe(200);
    expect(r.text).toMatch(/^strato_queue_wait_seconds_(bucket|count|sum)/m);
    expect(r.text).toMatch(/^strato_bus_messages_handled_total\{[^}]*\} [1-9]/m);
  });
});
