import { StratoError, SysErrors } from '../errors/index.ts';
import type { FlowRegistry } from '../flow/registry.ts';
import type { ExtensionRegistry } from './extension-registry.ts';

/**
 * What a plugin's setup receives. The node bootstrap extends it with its own services:
 * `interface NodePluginContext extends PluginContext { bus: Bus; db: Database; config: Config }`
 * and loads `Plugin<NodePluginContext>`s.
 */
export interface PluginContext {
  readonly extensions: ExtensionRegistry;
  readonly flows: FlowRegistry;
}

/**
 * A unit of optional behaviour (a hypervisor, a storage backend, a network service provider). Its
 * `setup` only registers: strategies, observers, flow steps at insertion points, chains. It must not
 * call other extensions, which may not be registered yet.
 *
 * @example
 *   export const kvmPlugin = definePlugin({
 *     id: 'kvm',
 *     setup({ extensions, flows }) {
 *       extensions.registerStrategy(HypervisorFactoryPoint, 'KVM', new KvmFactory(), { by: 'kvm' });
 *       flows.insert(BeforeInstantiate, prepareKvmHostStep);
 *     },
 *   });
 */
export interface Plugin<C extends PluginContext = PluginContext> {
  readonly id: string;
  /** Plugins that must be loaded (earlier in the list) before this one. */
  readonly dependsOn?: readonly string[];
  setup(ctx: C): void | Promise<void>;
}

/** Identity helper that infers a plugin's type. */
export function definePlugin<C extends PluginContext = PluginContext>(plugin: Plugin<C>): Plugin<C> {
  return plugin;
}

/**
 * Set up plugins in list order. Rejects duplicate ids, a dependency missing or listed after its
 * dependent, and wraps a failing setup in SYS.1000 naming the plugin. Returns the ids loaded.
 */
export async function loadPlugins<C extends PluginContext>(plugins: readonly Plugin<C>[], ctx: C): Promise<string[]> {
  const loaded: string[] = [];
  const all = new Set<string>();
  for (const p of plugins) {
    if (all.has(p.id)) throw new StratoError(SysErrors.INTERNAL, `two plugins have the id ${p.id}`);
    all.add(p.id);
  }
  for (const p of plugins) {
    for (const d of p.dependsOn ?? []) {
      if (!loaded.includes(d)) {
        throw new StratoError(SysErrors.INTERNAL, all.has(d) ? `plugin ${p.id} depends on ${d}, which must come before it` : `plugin ${p.id} depends on ${d}, which is not loaded`);
      }
    }
    try {
      await p.setup(ctx);
    } catch (e) {
      throw new StratoError(SysErrors.INTERNAL, `plugin ${p.id} failed to set up: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    loaded.push(p.id);
  }
  return loaded;
}
