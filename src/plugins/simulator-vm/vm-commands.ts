import { VmAgentPaths } from '../../contracts/vm.ts';
import type { SimulatedAgent, SimulatorFleet } from '../simulator/index.ts';

type VmCmd = { vmInstanceUuid?: string; vmInstanceUuids?: string[] };

/** The VMs a simulated host runs, by uuid → state, kept in the agent's state. */
export function vmsOf(agent: SimulatedAgent): Record<string, string> {
  agent.state.vms ??= {};
  return agent.state.vms as Record<string, string>;
}

function requireVm(agent: SimulatedAgent, cmd: VmCmd): string {
  const uuid = cmd.vmInstanceUuid;
  if (!uuid || !(uuid in vmsOf(agent))) throw new Error(`no VM ${String(uuid)} on this host`);
  return uuid;
}

/**
 * The VM commands of a simulated host (as the KVM agent's, abridged): each changes the VM's state in
 * the agent; a command on a VM the host does not have fails as a real agent would. Failures per path
 * come from the simulator's `configure`.
 */
export function defineVmCommands(fleet: SimulatorFleet): void {
  fleet.defineCommand('host', VmAgentPaths.start, (cmd: VmCmd, agent) => {
    if (!cmd.vmInstanceUuid) throw new Error('no vmInstanceUuid');
    vmsOf(agent)[cmd.vmInstanceUuid] = 'Running';
    return {};
  });
  fleet.defineCommand('host', VmAgentPaths.stop, (cmd: VmCmd, agent) => {
    // Stopping a VM the host does not run succeeds: it is off, which is what was asked.
    if (cmd.vmInstanceUuid && cmd.vmInstanceUuid in vmsOf(agent)) vmsOf(agent)[cmd.vmInstanceUuid] = 'Stopped';
    return {};
  });
  fleet.defineCommand('host', VmAgentPaths.reboot, (cmd: VmCmd, agent) => {
    vmsOf(agent)[requireVm(agent, cmd)] = 'Running';
    return {};
  });
  fleet.defineCommand('host', VmAgentPaths.pause, (cmd: VmCmd, agent) => {
    vmsOf(agent)[requireVm(agent, cmd)] = 'Paused';
    return {};
  });
  fleet.defineCommand('host', VmAgentPaths.resume, (cmd: VmCmd, agent) => {
    vmsOf(agent)[requireVm(agent, cmd)] = 'Running';
    return {};
  });
  fleet.defineCommand('host', VmAgentPaths.destroy, (cmd: VmCmd, agent) => {
    if (cmd.vmInstanceUuid) delete vmsOf(agent)[cmd.vmInstanceUuid];
    return {};
  });
  fleet.defineCommand('host', VmAgentPaths.migrate, (cmd: VmCmd & { destHostUuid?: string }, agent) => {
    const uuid = requireVm(agent, cmd);
    const dest = cmd.destHostUuid ? fleet.agent(cmd.destHostUuid) : undefined;
    if (!dest) throw new Error(`migration target ${String(cmd.destHostUuid)} is not reachable`);
    vmsOf(dest)[uuid] = vmsOf(agent)[uuid];
    delete vmsOf(agent)[uuid];
    return {};
  });
  fleet.defineCommand('host', VmAgentPaths.checkState, (cmd: VmCmd, agent) => {
    const vms = vmsOf(agent);
    return { states: Object.fromEntries((cmd.vmInstanceUuids ?? Object.keys(vms)).map((u) => [u, vms[u] ?? 'Stopped'])) };
  });
  fleet.defineCommand('host', VmAgentPaths.vmSync, (_cmd, agent) => ({ states: { ...vmsOf(agent) } }));
}
