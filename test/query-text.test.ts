import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderQueryText, renderResult } from '../src/api/render.ts';
import { setPageOffloadThresholdMs } from '../src/core/query/compiled-cache.ts';
import { executeQuery } from '../src/core/query/query.ts';
import { inventoriesText } from '../src/core/query/serialized.ts';
import { createZone, qs } from './support/integration.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';
import { buildVmWorld } from './support/vm-fixture.ts';

/**
 * Query pages read on a read worker (SQLite) come back as the JSON text of their inventories and are
 * written into the reply as they are. The replies must be the bytes the objects gave before: same
 * fields, order, nulls, numbers, booleans and dates, for every inventory a query route serves,
 * including nested-field and tag conditions and `fields` projections.
 */
describe('query replies from the read worker\'s JSON text (SQLite)', () => {
  let t: TestNode;
  let c: TestClient;
  const before = setPageOffloadThresholdMs(Number.POSITIVE_INFINITY);

  beforeAll(async () => {
    t = await startTestNode('sqlite');
    c = await t.login();
    const w = await buildVmWorld(c, 'qt');
    for (const name of ['qt-vm-1', 'qt-vm-2']) await c.call('POST', '/vm-instances', { params: { name, instanceOfferingUuid: w.offering, imageUuid: w.image, l3NetworkUuids: [w.l3] } });
    await createZone(c, 'qt-zone "quoted" 区', { description: 'line\nbreak \\ \u2028 é' }, { userTags: ['qt::gold'] });
  }, 60_000);
  afterAll(async () => {
    setPageOffloadThresholdMs(before);
    await t?.stop();
  });

  it('are byte for byte the replies built from the objects, for every query route', async () => {
    const routes = t.node.ctx.apis.all().filter((a) => a.query && a.method === 'GET');
    expect(routes.length).toBeGreaterThan(20);
    const extra: Record<string, Array<Record<string, string | number | boolean | string[]>>> = {
      '/vm-instances': [{ q: ['vmNics.ip~=10.%', 'state=Running'], sort: '-createDate' }, { q: ['zone.name=qt-zone'] }, { fields: ['uuid', 'memorySize', 'createDate', 'name'] }],
      '/zones': [{ q: ['__userTag__=qt::gold'] }, { q: ['isDefault=false'], fields: ['name', 'isDefault', 'description'] }],
    };
    // Audit rows are written as requests come; only those from before this loop stay the same.
    const cutoff = Date.now();
    let nonEmpty = 0;
    for (const api of routes) {
      for (const params of [api.path === '/audits' ? { q: [`createDate<${cutoff}`] } : {}, ...(extra[api.path] ?? [])]) {
        const path = `${api.path}${qs({ limit: 100, replyWithCount: true, ...params })}`;
        setPageOffloadThresholdMs(Number.POSITIVE_INFINITY);
        await c.raw('GET', path); // compiles the shape
        const objects = await c.raw('GET', path); // reads it on the main thread, from the objects
        setPageOffloadThresholdMs(0);
        const text = await c.raw('GET', path); // on the worker, as JSON text
        expect(objects.status, path).toBe(200);
        expect(text.text, path).toBe(objects.text);
        expect(text.headers.get('content-type'), path).toBe(objects.headers.get('content-type'));
        if ((objects.body as { inventories: unknown[] }).inventories.length > 0) nonEmpty++;
      }
    }
    expect(nonEmpty).toBeGreaterThan(15);
  });

  it('renderQueryText writes what JSON.stringify of renderResult gives, for objects too', () => {
    const api = t.node.ctx.apis.all().find((a) => a.name === 'QueryVmInstance')!;
    const cls = (n: string) => t.node.ctx.inventories.find(n)?.className;
    const none = () => undefined;
    const values = [
      { inventories: [{ a: 'x"\\\n\u2028é', b: null, c: 1.5, d: true, e: '2026-01-01T00:00:00.000Z' }, { a: '' }], total: 7 },
      { inventories: [], total: 0 },
      { inventories: [{ a: 1 }] },
    ];
    for (const v of values) for (const names of [cls, none]) expect(renderQueryText(api, v, names)).toBe(JSON.stringify(renderResult(api, v, names)));
    expect(renderQueryText(api, { total: 3 }, cls)).toBeUndefined(); // a count: renderResult answers
  });

  it('carry the text only until something reads the inventories; the reply text is what JSON.stringify gives', async () => {
    const { db, inventories, apis } = t.node.ctx;
    const api = apis.all().find((a) => a.name === 'QueryVmInstance')!;
    const classNameOf = (n: string) => inventories.find(n)?.className;
    setPageOffloadThresholdMs(0);
    const opts = { conditions: ['name~=qt-vm-%'], replyWithCount: true, limit: 10, sort: '+name' };
    for (let i = 0; i < 3; i++) await executeQuery(db, inventories, 'VmInstanceInventory', opts);
    const r = await executeQuery(db, inventories, 'VmInstanceInventory', opts);
    expect(inventoriesText(r)?.count).toBe(2);
    const text = renderQueryText(api, r, classNameOf)!;
    expect(text).toBe(JSON.stringify(renderResult(api, r, classNameOf))); // reads them: the text is given up
    expect(inventoriesText(r)).toBeUndefined();
    expect(renderQueryText(api, r, classNameOf)).toBe(text); // now from the objects
    expect(r.inventories!.map((v) => v.name)).toEqual(['qt-vm-1', 'qt-vm-2']);
    expect(JSON.parse(JSON.stringify(r))).toEqual({ total: 2, inventories: r.inventories });
    // frozen before anything read it (as the read cache freezes what it keeps): still reads, once
    const frozen = Object.freeze(await executeQuery(db, inventories, 'VmInstanceInventory', opts));
    expect(inventoriesText(frozen)).toBeDefined();
    expect(frozen.inventories).toEqual(r.inventories);
    expect(frozen.inventories).toBe(frozen.inventories);
    expect(inventoriesText(frozen)).toBeUndefined();
  });
});
