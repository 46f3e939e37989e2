import { HypervisorFactoryPoint } from '../../contracts/host.ts';
import type { NodeContext, ServiceModule } from '../../core/node-context.ts';
import { defineHostCommands } from './host-commands.ts';
import { simulatorHostMigration } from './schema.ts';
import { SimulatorFleet } from './simulator-fleet.ts';
import { simulatorHypervisor } from './simulator-hypervisor.ts';

export { SimulatorFleet, type SimulatorTransport } from './simulator-fleet.ts';
export { SimulatedAgent, type PathBehaviour, type SimulatedCommand } from './simulated-agent.ts';

const fleets = new WeakMap<NodeContext, SimulatorFleet>();

/** The simulated agents of a node: tests inject failures through it, other simulator plugins add commands. */
export function simulatorFleetOf(ctx: NodeContext): SimulatorFleet {
  const fleet = fleets.get(ctx);
  if (!fleet) throw new Error('the simulator plugin is not loaded on this node');
  return fleet;
}

/**
 * Simulated hosts that speak the agent protocol, over HTTP (one local server for all of them) or in
 * process (`simulator.agentTransport`, for scale); implements the 'Simulator' hypervisor.
 */
export const simulatorPlugin: ServiceModule = {
  id: 'simulator',
  migrations: [simulatorHostMigration],
  setup(ctx) {
    const fleet = new SimulatorFleet(ctx.agents, (err) => ctx.log.warn({ err }, 'simulator: could not deliver a callback'));
    fleets.set(ctx, fleet);
    defineHostCommands(fleet);
    const transport = ctx.config.define({ category: 'simulator', name: 'agentTransport', type: 'string', defaultValue: 'http', validValues: ['http', 'inProcess'], description: 'how simulated agents are reached: http (a local server, the real protocol on the wire) or inProcess (no sockets, for scale)' });
    ctx.extensions.registerStrategy(HypervisorFactoryPoint, 'Simulator', simulatorHypervisor(ctx.db, fleet, transport), { by: 'simulator' });
  },
  async stop(ctx) {
    await fleets.get(ctx)?.close();
  },
};
