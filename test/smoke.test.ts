import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';

describe.each(testDatabaseKinds())('a management node on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  beforeAll(async () => {
    t = await startTestNode(kind);
    c = await t.login();
  });
  afterAll(async () => t?.stop());

  it('creates a zone asynchronously and finds it with a q= query', async () => {
    const first = await c.raw('POST', '/zones', { params: { name: 'zone 1', description: 'd' } });
    expect(first.status).toBe(202);
    expect(first.body.location).toMatch(/\/zstack\/v1\/api-jobs\/[0-9a-f]{32}$/);
    const done = await c.poll(first.body.location);
    expect(done.status).toBe(200);
    expect(done.body.inventory).toMatchObject({ name: 'zone 1', state: 'Enabled', type: 'zstack', isDefault: false });
    const q = await c.raw('GET', `/zones?q=${encodeURIComponent('name=zone 1')}`);
    expect(q.body.inventories.map((z: any) => z.uuid)).toEqual([done.body.inventory.uuid]);
    expect(q.body.schema).toEqual({ 'inventories[0]': 'org.zstack.header.zone.ZoneInventory' });
  });
});
