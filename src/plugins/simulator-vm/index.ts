import type { ServiceModule } from '../../core/node-context.ts';
import { simulatorFleetOf } from '../simulator/index.ts';
import { defineNetworkCommands } from './network-commands.ts';
import { defineNicCommands } from './nic-commands.ts';
import { defineVmCommands } from './vm-commands.ts';
import { defineVolumeCommands } from './volume-commands.ts';

export { vmsOf } from './vm-commands.ts';
export { nicsOf } from './nic-commands.ts';
export { networksOf, type SimulatedNetworks } from './network-commands.ts';
export { attachedVolumesOf } from './volume-commands.ts';

/** VM commands for simulated hosts (/vm/start, /vm/stop, …); load after the simulator plugin. */
export const simulatorVmPlugin: ServiceModule = {
  id: 'simulator-vm',
  setup(ctx) {
    defineVmCommands(simulatorFleetOf(ctx));
    defineNicCommands(simulatorFleetOf(ctx));
    defineNetworkCommands(simulatorFleetOf(ctx));
    defineVolumeCommands(simulatorFleetOf(ctx));
  },
};
