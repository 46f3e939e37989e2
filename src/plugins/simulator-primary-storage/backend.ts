import type { Kysely } from 'kysely';
import type { PrimaryStorageBackend, PrimaryStorageCapacity, PrimaryStorageView, VolumeSpec } from '../../contracts/primary-storage.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import { checkFault } from './faults.ts';

/**
 * The `SimulatorPrimaryStorage` type: a primary storage that exists only as rows. It reports the
 * capacities the Add API gave (the service subtracts its own reservations); volumes are rows keyed by
 * install path; failures come from `injectPrimaryStorageFault`.
 */
export function simulatorPrimaryStorageBackend(db: Kysely<any>): PrimaryStorageBackend {
  const root = (ps: PrimaryStorageView) => ps.url.replace(/\/+$/, '');

  async function capacity(ps: PrimaryStorageView): Promise<PrimaryStorageCapacity> {
    const row = await db.selectFrom('simulator_primary_storage').selectAll().where('uuid', '=', ps.uuid).executeTakeFirst();
    if (!row) throw new StratoError(SysErrors.OPERATION_ERROR, `simulated primary storage ${ps.uuid} is unknown to the simulator`);
    return { totalCapacity: Number(row.totalCapacity), availableCapacity: Number(row.availableCapacity), totalPhysicalCapacity: Number(row.totalPhysicalCapacity), availablePhysicalCapacity: Number(row.availablePhysicalCapacity) };
  }

  async function store(ps: PrimaryStorageView, volume: VolumeSpec, baseImageUrl: string | null) {
    const installPath = `${root(ps)}/dataVolumes/acct-admin/vol-${volume.volumeUuid}/${volume.volumeUuid}.qcow2`;
    await db.deleteFrom('simulator_primary_storage_volume').where('primaryStorageUuid', '=', ps.uuid).where('volumeUuid', '=', volume.volumeUuid).execute();
    await db.insertInto('simulator_primary_storage_volume').values({ primaryStorageUuid: ps.uuid, installPath, volumeUuid: volume.volumeUuid, size: volume.size, baseImageUrl }).execute();
    // A fresh thin qcow2 occupies almost nothing until written.
    return { installPath, actualSize: 0, format: volume.format ?? 'qcow2' };
  }

  return {
    async add(ps, params) {
      checkFault(ps.uuid, 'add');
      const total = Number(params.totalCapacity ?? 0);
      const available = params.availableCapacity === undefined ? total : Number(params.availableCapacity);
      const totalPhysical = params.totalPhysicalCapacity === undefined ? total : Number(params.totalPhysicalCapacity);
      const availablePhysical = params.availablePhysicalCapacity === undefined ? available : Number(params.availablePhysicalCapacity);
      if (available > total) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `availableCapacity ${available} is larger than totalCapacity ${total}`);
      if (availablePhysical > totalPhysical) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `availablePhysicalCapacity ${availablePhysical} is larger than totalPhysicalCapacity ${totalPhysical}`);
      await db.deleteFrom('simulator_primary_storage').where('uuid', '=', ps.uuid).execute();
      await db.insertInto('simulator_primary_storage').values({ uuid: ps.uuid, totalCapacity: total, availableCapacity: available, totalPhysicalCapacity: totalPhysical, availablePhysicalCapacity: availablePhysical }).execute();
    },

    async connect(ps) {
      checkFault(ps.uuid, 'connect');
      return capacity(ps);
    },

    capacity,

    async createEmptyVolume(ps, volume) {
      checkFault(ps.uuid, 'createVolume');
      return store(ps, volume, null);
    },

    async downloadImageToCache(ps, image) {
      checkFault(ps.uuid, 'downloadImage');
      return { installUrl: `${root(ps)}/imagecache/template/${image.imageUuid}/${image.imageUuid}.${image.format ?? 'qcow2'}` };
    },

    async createVolumeFromCache(ps, volume, cache) {
      checkFault(ps.uuid, 'createVolume');
      return store(ps, volume, cache.installUrl);
    },

    async resizeVolume(ps, volume) {
      checkFault(ps.uuid, 'resizeVolume');
      const r = await db.updateTable('simulator_primary_storage_volume').set({ size: volume.size }).where('primaryStorageUuid', '=', ps.uuid).where('installPath', '=', volume.installPath).executeTakeFirst();
      if (Number(r.numUpdatedRows) === 0) throw new StratoError(SysErrors.OPERATION_ERROR, `simulated primary storage ${ps.uuid} has no volume at ${volume.installPath}`);
      return { size: volume.size, actualSize: 0 };
    },

    async deleteVolume(ps, volume) {
      checkFault(ps.uuid, 'deleteVolume');
      await db.deleteFrom('simulator_primary_storage_volume').where('primaryStorageUuid', '=', ps.uuid).where('installPath', '=', volume.installPath).execute();
    },

    async remove(ps) {
      await db.deleteFrom('simulator_primary_storage_volume').where('primaryStorageUuid', '=', ps.uuid).execute();
      await db.deleteFrom('simulator_primary_storage').where('uuid', '=', ps.uuid).execute();
    },
  };
}
