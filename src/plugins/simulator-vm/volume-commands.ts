import { VmVolumeAgentPaths } from '../../contracts/vm-volume.ts';
import type { SimulatedAgent, SimulatorFleet } from '../simulator/index.ts';
import { vmsOf } from './vm-commands.ts';

type VolumeCmd = { vmInstanceUuid?: string; volume?: { uuid?: string; installPath?: string; deviceId?: number } };

/** The data volumes plugged into each VM of a simulated host: vm uuid → volume uuid → device id. */
export function attachedVolumesOf(agent: SimulatedAgent): Record<string, Record<string, number>> {
  agent.state.vmVolumes ??= {};
  return agent.state.vmVolumes as Record<string, Record<string, number>>;
}

/** `/vm/attachdatavolume` and `/vm/detachdatavolume` on a simulated host: only for a VM it runs, as a real agent. */
export function defineVolumeCommands(fleet: SimulatorFleet): void {
  fleet.defineCommand('host', VmVolumeAgentPaths.attach, (cmd: VolumeCmd, agent) => {
    const vm = cmd.vmInstanceUuid;
    if (!vm || !(vm in vmsOf(agent))) throw new Error(`no VM ${String(vm)} on this host`);
    if (!cmd.volume?.uuid || !cmd.volume.installPath) throw new Error('no volume uuid or install path');
    (attachedVolumesOf(agent)[vm] ??= {})[cmd.volume.uuid] = Number(cmd.volume.deviceId);
    return {};
  });
  fleet.defineCommand('host', VmVolumeAgentPaths.detach, (cmd: VolumeCmd, agent) => {
    // Detaching what is not plugged in succeeds: it is out, which is what was asked.
    const vm = cmd.vmInstanceUuid;
    if (vm && cmd.volume?.uuid) delete attachedVolumesOf(agent)[vm]?.[cmd.volume.uuid];
    return {};
  });
}
