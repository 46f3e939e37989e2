import type { Bus } from '../../../core/bus/index.ts';
import type { Kysely } from 'kysely';
import { PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages, type AllocateSpaceReply, type InstantiatedVolume } from '../../../contracts/primary-storage.ts';
import type { PlannedVolume } from '../../../contracts/vm.ts';
import { insertRow, updateByUuid } from './hot-sql.ts';

/**
 * A VM's volume made through the primary-storage service: the row (Creating), the space, the bits,
 * then Ready and attached to the VM. `planned` records each part as it is made so that `undoVolume`
 * (a step's rollback) takes back exactly what exists; `checkpoint` journals it before the next part.
 */
export async function makeVolume(
  services: { db: Kysely<any>; bus: Bus },
  planned: PlannedVolume,
  spec: { vmUuid: string; type: 'Root' | 'Data'; name: string; imageUuid?: string; primaryStorageUuid?: string; clusterUuid: string; hostUuid: string; format?: string },
  checkpoint: () => Promise<void>,
): Promise<void> {
  const { db, bus } = services;
  const now = Date.now();
  await insertRow(db, 'volume', {
    uuid: planned.uuid, name: spec.name, description: null, diskOfferingUuid: planned.diskOfferingUuid ?? null, rootImageUuid: spec.type === 'Root' ? spec.imageUuid ?? null : null,
    vmInstanceUuid: spec.vmUuid, type: spec.type, format: spec.format ?? 'qcow2', size: planned.size, actualSize: 0, deviceId: planned.deviceId, state: 'Enabled', status: 'Creating',
    isShareable: false, charged: 0, createDate: now, lastOpDate: now,
  });
  planned.allocated = await bus.call<AllocateSpaceReply>(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.allocateSpace, { size: planned.size, primaryStorageUuid: spec.primaryStorageUuid, clusterUuid: spec.clusterUuid });
  await checkpoint();
  const made = await bus.call<InstantiatedVolume>(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.instantiateVolume, {
    primaryStorageUuid: planned.allocated.primaryStorageUuid, volumeUuid: planned.uuid, size: planned.size, format: spec.format, hostUuid: spec.hostUuid, imageUuid: spec.imageUuid,
  });
  planned.installPath = made.installPath;
  await checkpoint();
  await updateByUuid(db, 'volume', { primaryStorageUuid: planned.allocated.primaryStorageUuid, installPath: made.installPath, actualSize: made.actualSize, format: made.format, charged: planned.allocated.charged, status: 'Ready', lastOpDate: Date.now() }, planned.uuid);
}

/** Takes back what `makeVolume` made: bits, space, row. Tolerates a run that never happened. */
export async function undoVolume(services: { db: Kysely<any>; bus: Bus }, planned: PlannedVolume): Promise<void> {
  const { db, bus } = services;
  if (planned.allocated) {
    const installPath = planned.installPath ?? ((await db.selectFrom('volume').select('installPath').where('uuid', '=', planned.uuid).executeTakeFirst())?.installPath as string | undefined);
    if (installPath) await bus.call(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.deleteVolume, { primaryStorageUuid: planned.allocated.primaryStorageUuid, volumeUuid: planned.uuid, installPath });
    await bus.call(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.releaseSpace, { primaryStorageUuid: planned.allocated.primaryStorageUuid, charged: planned.allocated.charged });
  }
  await db.deleteFrom('volume').where('uuid', '=', planned.uuid).execute();
}
