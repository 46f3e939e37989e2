import { describe, expect, it } from 'vitest';
import { defineChain, insertionPoint } from '../flow/chain.ts';
import { runChain } from '../flow/engine.ts';
import { FlowRegistry } from '../flow/registry.ts';
import { noRollback } from '../flow/step.ts';
import { strategyPoint } from './extension-point.ts';
import { ExtensionRegistry } from './extension-registry.ts';
import { definePlugin, loadPlugins, type PluginContext } from './plugin.ts';

const GreeterPoint = strategyPoint<{ greet(): string }>('test.greeter');
const ctx = (): PluginContext => ({ extensions: new ExtensionRegistry(), flows: new FlowRegistry() });

describe('plugins', () => {
  it('sets plugins up in order, with the registries, and returns their ids', async () => {
    const order: string[] = [];
    const c = ctx();
    const a = definePlugin({ id: 'a', setup: ({ extensions }) => { order.push('a'); extensions.registerStrategy(GreeterPoint, 'hi', { greet: () => 'hi' }); } });
    const b = definePlugin({ id: 'b', dependsOn: ['a'], setup: async () => { order.push('b'); } });
    expect(await loadPlugins([a, b], c)).toEqual(['a', 'b']);
    expect(order).toEqual(['a', 'b']);
    expect(c.extensions.strategy(GreeterPoint, 'hi').greet()).toBe('hi');
  });

  it('lets a plugin insert a flow step at a chain\'s insertion point', async () => {
    const point = insertionPoint<{ out: string[] }>('test.chain.middle');
    const chain = defineChain<{ out: string[] }>('test.chain', [
      { name: 'first', run: (x) => { x.out.push('first'); }, rollback: noRollback },
      point,
      { name: 'last', run: (x) => { x.out.push('last'); }, rollback: noRollback },
    ]);
    const c = ctx();
    await loadPlugins([definePlugin({ id: 'p', setup: ({ flows }) => flows.insert(point, { name: 'plugged', run: (x) => { x.out.push('plugged'); }, rollback: noRollback }) })], c);
    expect((await runChain(chain, { out: [] as string[] }, { registry: c.flows })).out).toEqual(['first', 'plugged', 'last']);
  });

  it('refuses duplicate ids before setting anything up', async () => {
    let ran = false;
    const p = { id: 'same', setup: () => { ran = true; } };
    await expect(loadPlugins([p, { ...p }], ctx())).rejects.toThrow(/two plugins have the id same/);
    expect(ran).toBe(false);
  });

  it('refuses a dependency that is missing or listed after its dependent', async () => {
    await expect(loadPlugins([{ id: 'b', dependsOn: ['a'], setup: () => {} }], ctx())).rejects.toThrow(/depends on a, which is not loaded/);
    await expect(loadPlugins([{ id: 'b', dependsOn: ['a'], setup: () => {} }, { id: 'a', setup: () => {} }], ctx())).rejects.toThrow(/must come before it/);
  });

  it('names the plugin whose setup failed', async () => {
    await expect(loadPlugins([{ id: 'broken', setup: () => { throw new Error('bad config'); } }], ctx())).rejects.toThrow('plugin broken failed to set up: bad config');
  });

  it('accepts a context the node extends with its own services', async () => {
    interface NodeCtx extends PluginContext { config: { get(k: string): string } }
    let seen = '';
    const p = definePlugin<NodeCtx>({ id: 'cfg', setup: ({ config }) => { seen = config.get('x'); } });
    await loadPlugins([p], { ...ctx(), config: { get: (k) => `v-${k}` } });
    expect(seen).toBe('v-x');
  });
});
