import type { ServiceModule } from '../../core/node-context.ts';
import { simulatorFleetOf } from '../simulator/index.ts';
import { defineVmCommands } from './vm-commands.ts';

export { vmsOf } from './vm-commands.ts';

/** VM commands for simulated hosts (/vm/start, /vm/stop, …); load after the simulator plugin. */
export const simulatorVmPlugin: ServiceModule = {
  id: 'simulator-vm',
  setup(ctx) {
    defineVmCommands(simulatorFleetOf(ctx));
  },
};
