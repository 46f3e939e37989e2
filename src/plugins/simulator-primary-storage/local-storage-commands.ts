import { LocalStorageAgentPaths } from '../local-storage/index.ts';
import type { SimulatorFleet } from '../simulator/index.ts';
import { forgetSnapshotFile } from './local-storage-snapshot-commands.ts';

/** 1 TiB: the disk a simulated host reports when a test set none. */
export const DEFAULT_SIMULATED_HOST_DISK = 1024 ** 4;

const disks = new Map<string, { totalCapacity: number; availableCapacity: number }>();

/**
 * The disk a simulated host reports to local storage, by host uuid. Process-wide on purpose (as the
 * fault injection is): a test sets it before adding the host (with a `resourceUuid`) or before a reconnect.
 *
 * @example
 *   simulateHostDisk(hostUuid, { totalCapacity: 100 * GiB, availableCapacity: 90 * GiB });
 */
export function simulateHostDisk(hostUuid: string, disk: { totalCapacity: number; availableCapacity?: number }): void {
  disks.set(hostUuid, { totalCapacity: disk.totalCapacity, availableCapacity: disk.availableCapacity ?? disk.totalCapacity });
}

export function clearSimulatedHostDisks(): void {
  disks.clear();
}

/** A simulated host's answers to the `/localstorage/*` commands: the disk above, and volumes that only exist as names. */
export function defineLocalStorageCommands(fleet: SimulatorFleet): void {
  fleet.defineCommand('host', LocalStorageAgentPaths.init, (cmd: { hostUuid?: string }, agent) => {
    const disk = disks.get(cmd.hostUuid ?? String(agent.state.hostUuid ?? agent.address)) ?? { totalCapacity: DEFAULT_SIMULATED_HOST_DISK, availableCapacity: DEFAULT_SIMULATED_HOST_DISK };
    return { ...disk };
  });
  const ok = () => ({ actualSize: 0 });
  fleet.defineCommand('host', LocalStorageAgentPaths.createEmptyVolume, ok);
  fleet.defineCommand('host', LocalStorageAgentPaths.downloadImage, () => ({}));
  fleet.defineCommand('host', LocalStorageAgentPaths.createVolumeFromCache, ok);
  fleet.defineCommand('host', LocalStorageAgentPaths.resizeVolume, (cmd: { size: number }) => ({ size: cmd.size, actualSize: 0 }));
  fleet.defineCommand('host', LocalStorageAgentPaths.delete, (cmd: { path: string }, agent) => {
    forgetSnapshotFile(agent, cmd.path);
    return {};
  });
}
