import { HostAgentPaths } from '../../contracts/host.ts';
import type { SimulatorFleet } from './simulator-fleet.ts';

/**
 * A simulated host's agent: the capacity given to AddSimulatorHost (cpuCapacity vCPUs, memoryCapacity
 * bytes) is what it reports; `/host/connect` remembers the host uuid that `/host/ping` answers with.
 */
export function defineHostCommands(fleet: SimulatorFleet): void {
  fleet.defineCommand('host', HostAgentPaths.echo, () => ({}), { sync: true });
  fleet.defineCommand('host', HostAgentPaths.connect, (cmd: { hostUuid?: string }, agent) => {
    agent.state.hostUuid = cmd.hostUuid;
    return { libvirtVersion: 'simulated', qemuVersion: 'simulated' };
  }, { sync: true });
  fleet.defineCommand('host', HostAgentPaths.ping, (_cmd, agent) => ({ hostUuid: agent.state.hostUuid }));
  fleet.defineCommand('host', HostAgentPaths.capacity, (_cmd, agent) => ({ cpuNum: Number(agent.state.cpuCapacity), cpuSockets: 1, cpuSpeed: 2600, totalMemory: Number(agent.state.memoryCapacity), usedMemory: 0 }));
}
