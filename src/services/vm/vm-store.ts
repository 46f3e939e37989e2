import type { Kysely } from 'kysely';
import { VmEvents, VmLifecyclePoint, type VmInstanceView, type VmState } from '../../contracts/vm.ts';
import type { Bus } from '../../core/bus/index.ts';
import { rowsByKey } from '../../core/db/rows-by-key.ts';
import type { ExtensionRegistry } from '../../core/plugin/index.ts';
import { rowToInventory } from '../../core/query/inventory.ts';
import { loadInventory, patchRow } from '../../core/resource/resource-store.ts';
import { announceNicsLeftHost } from './network-follow.ts';
import { VmInstanceInventory, VmNicInventory } from './schema.ts';

/** ZStack's full VmInstanceInventory: the row plus its `vmNics` and `allVolumes` lists. */
export async function vmInventory(db: Kysely<any>, uuid: string, inventories: { find(name: string): any }): Promise<Record<string, unknown>> {
  const vm = await loadInventory(db, VmInstanceInventory, uuid);
  // Every create, start and stop answers with this: SQL text built once.
  const nics = await rowsByKey(db, 'vm_nic', '*', 'vmInstanceUuid', uuid, 'deviceId');
  const volumes = await rowsByKey(db, 'volume', '*', 'vmInstanceUuid', uuid, 'deviceId');
  const volumeInv = inventories.find('VolumeInventory');
  return {
    ...vm,
    vmNics: nics.map((n) => rowToInventory(VmNicInventory, n)),
    allVolumes: volumeInv ? volumes.map((v) => rowToInventory(volumeInv, v)) : volumes,
  };
}

export async function loadVm(db: Kysely<any>, uuid: string): Promise<VmInstanceView> {
  return (await loadInventory(db, VmInstanceInventory, uuid)) as VmInstanceView;
}

/** Persists a state change (with other columns), then tells observers and every node. */
export async function changeVmState(
  deps: { db: Kysely<any>; bus: Bus; extensions: ExtensionRegistry },
  vm: VmInstanceView,
  state: VmState,
  patch: Partial<Record<keyof VmInstanceView, unknown>> = {},
): Promise<VmInstanceView> {
  const updated = (await patchRow(deps.db, VmInstanceInventory, vm.uuid, { ...patch, state })) as VmInstanceView;
  // Stopped, destroyed, migrated away: network plugins let go of what the host held for its NICs.
  if (vm.hostUuid && vm.hostUuid !== updated.hostUuid) await announceNicsLeftHost(deps, updated, vm.hostUuid);
  if (vm.state !== state) {
    await deps.extensions.callSafe(VmLifecyclePoint, 'afterStateChange', updated, vm.state);
    void deps.bus.publish(VmEvents.stateChanged, { vmUuid: vm.uuid, previous: vm.state, state, hostUuid: updated.hostUuid });
  }
  return updated;
}
