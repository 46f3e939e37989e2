import { VmNicAgentPaths } from '../../contracts/vm-nic.ts';
import type { SimulatedAgent, SimulatorFleet } from '../simulator/index.ts';
import { vmsOf } from './vm-commands.ts';

type NicCmd = { vmInstanceUuid?: string; nic?: { uuid?: string; mac?: string } };

/** The NICs hot-plugged into each VM of a simulated host: vm uuid → NIC uuids. */
export function nicsOf(agent: SimulatedAgent): Record<string, string[]> {
  agent.state.vmNics ??= {};
  return agent.state.vmNics as Record<string, string[]>;
}

/** `/vm/attachnic` and `/vm/detachnic` of a simulated host: the VM must run there, as with a real agent. */
export function defineNicCommands(fleet: SimulatorFleet): void {
  fleet.defineCommand('host', VmNicAgentPaths.attachNic, (cmd: NicCmd, agent) => {
    const vm = cmd.vmInstanceUuid;
    if (!vm || !(vm in vmsOf(agent))) throw new Error(`no VM ${String(vm)} on this host`);
    if (!cmd.nic?.uuid) throw new Error('no nic');
    const nics = (nicsOf(agent)[vm] ??= []);
    if (!nics.includes(cmd.nic.uuid)) nics.push(cmd.nic.uuid);
    return {};
  });
  fleet.defineCommand('host', VmNicAgentPaths.detachNic, (cmd: NicCmd, agent) => {
    const vm = cmd.vmInstanceUuid;
    if (!vm || !(vm in vmsOf(agent))) throw new Error(`no VM ${String(vm)} on this host`);
    const nics = nicsOf(agent)[vm] ?? [];
    nicsOf(agent)[vm] = nics.filter((n) => n !== cmd.nic?.uuid);
    return {};
  });
}
