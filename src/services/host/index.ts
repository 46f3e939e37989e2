import { AgentTokenResolverPoint } from '../../contracts/agent-report.ts';
import { serviceFromHandlers } from '../../core/bus/index.ts';
import type { NodeContext, ServiceModule } from '../../core/node-context.ts';
import { hostApis } from './apis.ts';
import { hostCascadeEntry } from './cascade.ts';
import { hostChains } from './flows/host-chains.ts';
import { hostHandlers } from './handlers.ts';
import { HostPingTracker } from './ping-tracker.ts';
import { HostInventory, hostMigration } from './schema.ts';

const trackers = new WeakMap<NodeContext, HostPingTracker>();

/** The ping tracker of a node (tests run a round at once with `pingAll`). */
export function hostPingTrackerOf(ctx: NodeContext): HostPingTracker | undefined {
  return trackers.get(ctx);
}

/** Hosts: added through a hypervisor plugin, connected through their agent, pinged, capacity reserved. */
export const hostService: ServiceModule = {
  id: 'host',
  migrations: [hostMigration],
  inventories: [HostInventory],
  apis: hostApis,
  setup(ctx) {
    const { config } = ctx;
    const cpuOverProvisioningRatio = config.define({ category: 'host', name: 'cpu.overProvisioning.ratio', type: 'number', defaultValue: 10, min: 1, description: 'the over provisioning ratio for CPU number' });
    const memoryOverProvisioningRatio = config.define({ category: 'mevoco', name: 'overProvisioning.memory', type: 'number', defaultValue: 1, min: 1, description: 'the over provisioning ratio for memory: a reservation takes its size divided by this' });
    const pingInterval = config.define({ category: 'host', name: 'ping.interval', type: 'number', defaultValue: 60, min: 1, description: 'the interval management server sends ping command to host, in seconds' });
    const autoReconnect = config.define({ category: 'host', name: 'connection.autoReconnectOnError', type: 'boolean', defaultValue: true, description: 'whether management server automatically starts a reconnect if a host ping command fails' });
    const chains = hostChains({ extensions: ctx.extensions, cpuOverProvisioningRatio });
    ctx.flows.registerChain(chains.add);
    ctx.flows.registerChain(chains.connect);
    ctx.cascade.register(hostCascadeEntry(ctx));
    const handlers = hostHandlers(ctx, { chains, memoryOverProvisioningRatio });
    const { setStatus, ...messages } = handlers;
    ctx.bus.registerService(serviceFromHandlers('host', messages));
    trackers.set(ctx, new HostPingTracker(ctx, pingInterval, autoReconnect, setStatus));
    // A host's agent signs its reports with the token issued when the host was added.
    ctx.extensions.registerObserver(AgentTokenResolverPoint, {
      tokenOf: async (uuid) => (await ctx.db.selectFrom('host').select('agentToken').where('uuid', '=', uuid).executeTakeFirst())?.agentToken as string | undefined,
    }, { by: 'host' });
  },
  start(ctx) {
    trackers.get(ctx)?.start();
  },
  async stop(ctx) {
    await trackers.get(ctx)?.stop();
  },
};
