import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { SysErrors } from '../src/core/errors/index.ts';
import type { ServiceModule } from '../src/core/node-context.ts';
import { configValues } from './support/integration.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';

/** Test-only module: observes a setting of its own and the identity session timeout. */
function observingModule(seen: Array<{ name: string; value: unknown; old: unknown }>): ServiceModule {
  return {
    id: 'test.config-observer',
    setup(ctx) {
      const own = ctx.config.define({ category: 'test', name: 'widget.count', type: 'number', defaultValue: 3, min: 1, max: 10, description: 'how many widgets (test only)' });
      own.onChange((value, old) => {
        seen.push({ name: 'test.widget.count', value, old });
      });
      const mode = ctx.config.define({ category: 'test', name: 'widget.mode', type: 'string', defaultValue: 'fast', validValues: ['fast', 'safe'], description: 'widget mode (test only)' });
      mode.onChange((value, old) => {
        seen.push({ name: 'test.widget.mode', value, old });
      });
    },
  };
}

describe.each(testDatabaseKinds())('global configuration through the REST API on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  const seen: Array<{ name: string; value: unknown; old: unknown }> = [];
  const db = () => t.node.ctx.db;

  beforeAll(async () => {
    t = await startTestNode(kind, { modules: [observingModule(seen)] });
    c = await t.login();
  });
  afterAll(async () => t?.stop());

  it('lists a category with q=category=identity', async () => {
    const r = await c.call('GET', '/global-configurations?q=category=identity');
    expect(r.inventories.length).toBeGreaterThan(0);
    expect(r.inventories.every((x: any) => x.category === 'identity')).toBe(true);
    expect(r.inventories.find((x: any) => x.name === 'session.timeout')).toMatchObject({ defaultValue: '7200', value: '7200' });
    expect(r.schema['inventories[0]']).toBe('org.zstack.core.config.GlobalConfigInventory');
  });

  it('updates a value: persisted, visible to queries, in memory, and observers notified', async () => {
    const r = await c.call('PUT', '/global-configurations/test/widget.count/actions', { updateGlobalConfig: { value: '7' } });
    expect(r.inventory).toMatchObject({ category: 'test', name: 'widget.count', value: '7', defaultValue: '3' });
    const row = await db().selectFrom('global_config').select('value').where('category', '=', 'test').where('name', '=', 'widget.count').executeTakeFirstOrThrow();
    expect(row.value).toBe('7');
    expect(t.node.ctx.config.get('test', 'widget.count')).toBe(7);
    expect(seen).toContainEqual({ name: 'test.widget.count', value: 7, old: 3 });
    const q = await c.call('GET', `/global-configurations?q=category=test&q=name=widget.count`);
    expect(q.inventories[0].value).toBe('7');
  });

  it('updates the identity session timeout and new sessions use it', async () => {
    await c.call('PUT', '/global-configurations/identity/session.timeout/actions', { updateGlobalConfig: { value: '600' } });
    const before = Date.now();
    const other = await t.login();
    const row = await db().selectFrom('session').select('expiredDate').where('uuid', '=', other.session).executeTakeFirstOrThrow();
    const lifetime = Number(row.expiredDate) - before;
    expect(lifetime).toBeGreaterThan(500_000);
    expect(lifetime).toBeLessThanOrEqual(600_000 + 5_000);
    await c.call('PUT', '/global-configurations/identity/session.timeout/actions', { updateGlobalConfig: { value: '7200' } });
  });

  it.each([
    ['not a number', 'test', 'widget.count', 'many'],
    ['below the minimum', 'test', 'widget.count', '0'],
    ['above the maximum', 'test', 'widget.count', '11'],
    ['not a valid value', 'test', 'widget.mode', 'reckless'],
    ['below the session minimum', 'identity', 'session.timeout', '1'],
  ])('refuses a value %s with SYS.1007 and changes nothing', async (_what, category, name, value) => {
    const before = await configValues(db());
    const observed = seen.length;
    const r = await c.send('PUT', `/global-configurations/${category}/${name}/actions`, { updateGlobalConfig: { value } });
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe(SysErrors.INVALID_ARGUMENT_ERROR.code);
    expect(r.body.error.details).toContain(value);
    expect(await configValues(db())).toEqual(before);
    expect(seen.length).toBe(observed);
  });

  it('refuses an unknown configuration name and creates no row', async () => {
    const before = await configValues(db());
    const r = await c.send('PUT', '/global-configurations/test/no.such.thing/actions', { updateGlobalConfig: { value: '1' } });
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe(SysErrors.INVALID_ARGUMENT_ERROR.code);
    expect(r.body.error.details).toContain('test.no.such.thing');
    expect(await configValues(db())).toEqual(before);
  });

  it('does not notify observers when the value does not change', async () => {
    await c.call('PUT', '/global-configurations/test/widget.mode/actions', { updateGlobalConfig: { value: 'safe' } });
    const observed = seen.length;
    await c.call('PUT', '/global-configurations/test/widget.mode/actions', { updateGlobalConfig: { value: 'safe' } });
    expect(seen.length).toBe(observed);
    expect(seen.filter((s) => s.name === 'test.widget.mode')).toEqual([{ name: 'test.widget.mode', value: 'safe', old: 'fast' }]);
  });

  it('keeps an updated value across a node restart on the same database', async () => {
    // The node stops and a new one starts on the same database (the last case of this file). Two live nodes
    // on one SQLite file in one process could deadlock: one's synchronous busy wait blocks the event loop
    // that would commit the other's open group-commit batch ("database is locked" after 5 s, seen in CI).
    const { ManagementNode } = await import('../src/node/management-node.ts');
    const pino = (await import('pino')).default;
    await t.node.stop();
    const again = await ManagementNode.start({ dbUrl: t.db.url, port: 0, host: '127.0.0.1', logger: pino({ level: 'silent' }), modules: [observingModule([])] });
    t.node = again; // afterAll stops it and drops the database
    expect(again.ctx.config.get('test', 'widget.count')).toBe(7);
  });
});
