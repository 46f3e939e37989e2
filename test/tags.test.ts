import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { StratoError, SysErrors } from '../src/core/errors/index.ts';
import type { ServiceModule } from '../src/core/node-context.ts';
import { newUuid } from '../src/core/util/uuid.ts';
import { countRows, createZone } from './support/integration.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';

const COLOURS = new Set(['red', 'green', 'blue']);

/** Test-only module: zones accept `colour::{colour}` with one of three colours. */
const colourTags: ServiceModule = {
  id: 'test.colour-tags',
  setup(ctx) {
    ctx.systemTags.define({
      pattern: 'colour::{colour}',
      resourceType: 'ZoneVO',
      validate: ({ colour }) => {
        if (!COLOURS.has(colour)) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `unknown colour [${colour}]`);
      },
    });
  },
};

describe.each(testDatabaseKinds())('the tag API on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let zone: any;
  const db = () => t.node.ctx.db;

  beforeAll(async () => {
    t = await startTestNode(kind, { modules: [colourTags] });
    c = await t.login();
    zone = await createZone(c, 'tagged-zone');
  });
  afterAll(async () => t?.stop());

  it('creates a user tag on a zone and lists it with GET /user-tags', async () => {
    const r = await c.call('POST', '/user-tags', { params: { resourceType: 'ZoneVO', resourceUuid: zone.uuid, tag: 'web-tier' } });
    expect(r.inventory).toMatchObject({ resourceType: 'ZoneVO', resourceUuid: zone.uuid, tag: 'web-tier', type: 'User' });
    expect(r.inventory.uuid).toMatch(/^[0-9a-f]{32}$/);
    const q = await c.call('GET', `/user-tags?q=${encodeURIComponent(`resourceUuid=${zone.uuid}`)}`);
    expect(q.inventories.map((x: any) => x.tag)).toContain('web-tier');
    expect(q.schema['inventories[0]']).toBe('org.zstack.header.tag.UserTagInventory');
    const zones = await c.call('GET', `/zones?q=${encodeURIComponent('__userTag__=web-tier')}`);
    expect(zones.inventories.map((z: any) => z.uuid)).toEqual([zone.uuid]);
  });

  it('creates a valid system tag, updates it, lists it with GET /system-tags, deletes it', async () => {
    const created = await c.call('POST', '/system-tags', { params: { resourceType: 'ZoneVO', resourceUuid: zone.uuid, tag: 'colour::red' } });
    expect(created.inventory).toMatchObject({ resourceUuid: zone.uuid, tag: 'colour::red', inherent: false });
    const uuid = created.inventory.uuid;

    const updated = await c.call('PUT', `/system-tags/${uuid}/actions`, { updateSystemTag: { tag: 'colour::blue' } });
    expect(updated.inventory).toMatchObject({ uuid, tag: 'colour::blue' });
    const listed = await c.call('GET', `/system-tags?q=${encodeURIComponent(`resourceUuid=${zone.uuid}`)}`);
    expect(listed.inventories.map((x: any) => x.tag)).toEqual(['colour::blue']);
    expect(listed.schema['inventories[0]']).toBe('org.zstack.header.tag.SystemTagInventory');

    expect((await c.send('DELETE', `/tags/${uuid}`)).status).toBe(200);
    expect(await db().selectFrom('system_tag').select('uuid').where('uuid', '=', uuid).execute()).toEqual([]);
  });

  it('deletes a user tag by DELETE /tags/{uuid}', async () => {
    const created = await c.call('POST', '/user-tags', { params: { resourceType: 'ZoneVO', resourceUuid: zone.uuid, tag: 'short-lived' } });
    expect((await c.send('DELETE', `/tags/${created.inventory.uuid}`)).status).toBe(200);
    expect(await db().selectFrom('user_tag').select('uuid').where('uuid', '=', created.inventory.uuid).execute()).toEqual([]);
  });

  it('refuses a system tag whose validator rejects it, on create and on update, and changes nothing', async () => {
    const tag = await c.call('POST', '/system-tags', { params: { resourceType: 'ZoneVO', resourceUuid: zone.uuid, tag: 'colour::green' } });
    const before = await countRows(db());
    const bad = await c.send('POST', '/system-tags', { params: { resourceType: 'ZoneVO', resourceUuid: zone.uuid, tag: 'colour::purple' } });
    expect(bad.status).toBe(503);
    expect(bad.body.error).toMatchObject({ code: SysErrors.INVALID_ARGUMENT_ERROR.code });
    expect(bad.body.error.details).toContain('purple');
    const badUpdate = await c.send('PUT', `/system-tags/${tag.inventory.uuid}/actions`, { updateSystemTag: { tag: 'colour::mauve' } });
    expect(badUpdate.status).toBe(503);
    expect(badUpdate.body.error.code).toBe(SysErrors.INVALID_ARGUMENT_ERROR.code);
    const unmatched = await c.send('PUT', `/system-tags/${tag.inventory.uuid}/actions`, { updateSystemTag: { tag: 'shape::round' } });
    expect(unmatched.status).toBe(503);
    expect(unmatched.body.error.code).toBe(SysErrors.INVALID_ARGUMENT_ERROR.code);
    expect(await countRows(db())).toEqual(before);
    const row = await db().selectFrom('system_tag').select('tag').where('uuid', '=', tag.inventory.uuid).executeTakeFirstOrThrow();
    expect(row.tag).toBe('colour::green');
  });

  it('refuses a system tag that matches no pattern of the resource type', async () => {
    const before = await countRows(db());
    const r = await c.send('POST', '/system-tags', { params: { resourceType: 'ZoneVO', resourceUuid: zone.uuid, tag: 'flavour::vanilla' } });
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe(SysErrors.INVALID_ARGUMENT_ERROR.code);
    expect(r.body.error.details).toContain('colour::{colour}');
    expect(await countRows(db())).toEqual(before);
  });

  it('refuses tags on a resource that does not exist (SYS.1003) or of an unknown resourceType (SYS.1007)', async () => {
    const before = await countRows(db());
    for (const path of ['/user-tags', '/system-tags']) {
      const missing = await c.send('POST', path, { params: { resourceType: 'ZoneVO', resourceUuid: newUuid(), tag: 'colour::red' } });
      expect(missing.status).toBe(503);
      expect(missing.body.error.code).toBe(SysErrors.RESOURCE_NOT_FOUND.code);
      const unknownType = await c.send('POST', path, { params: { resourceType: 'SpaceshipVO', resourceUuid: zone.uuid, tag: 'colour::red' } });
      expect(unknownType.status).toBe(503);
      expect(unknownType.body.error.code).toBe(SysErrors.INVALID_ARGUMENT_ERROR.code);
      expect(unknownType.body.error.details).toContain('SpaceshipVO');
    }
    expect(await countRows(db())).toEqual(before);
  });

  it('answers SYS.1003 when updating a system tag that does not exist, and 200 deleting one', async () => {
    const r = await c.send('PUT', `/system-tags/${newUuid()}/actions`, { updateSystemTag: { tag: 'colour::red' } });
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe(SysErrors.RESOURCE_NOT_FOUND.code);
    expect((await c.send('DELETE', `/tags/${newUuid()}`)).status).toBe(200);
  });

  it('accepts declared system tags on CreateZone and refuses invalid ones there too', async () => {
    const ok = await createZone(c, 'colourful', {}, { systemTags: ['colour::blue'] });
    const tags = await c.call('GET', `/system-tags?q=${encodeURIComponent(`resourceUuid=${ok.uuid}`)}`);
    expect(tags.inventories.map((x: any) => x.tag)).toEqual(['colour::blue']);
    const before = await countRows(db());
    const bad = await c.send('POST', '/zones', { params: { name: 'colourless' }, systemTags: ['colour::beige'] });
    expect(bad.status).toBe(503);
    expect(bad.body.error.code).toBe(SysErrors.INVALID_ARGUMENT_ERROR.code);
    expect(await countRows(db())).toEqual(before);
  });
});
