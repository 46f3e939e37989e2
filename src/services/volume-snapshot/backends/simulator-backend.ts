import type { Kysely } from 'kysely';
import type { VolumeSnapshotBackend } from '../../../contracts/volume-snapshot.ts';
import { checkSnapshotFault } from './faults.ts';

/**
 * Snapshots on a storage whose bits are rows (the `SimulatorPrimaryStorage` type): each snapshot and
 * each merged volume is a row of `simulator_volume_snapshot_bits` with its size and the file it is based
 * on, as a qcow2 chain would be. A snapshot holds the volume's virtual size (what its delta may grow to).
 */
export function simulatorSnapshotBackend(db: Kysely<any>): VolumeSnapshotBackend {
  const bits = 'simulator_volume_snapshot_bits';
  const sizeOf = async (psUuid: string, path: string) => (await db.selectFrom(bits).select('size').where('primaryStorageUuid', '=', psUuid).where('installPath', '=', path).executeTakeFirst())?.size;

  async function put(psUuid: string, installPath: string, ownerUuid: string, size: number, basePath: string | null): Promise<void> {
    await db.deleteFrom(bits).where('primaryStorageUuid', '=', psUuid).where('installPath', '=', installPath).execute();
    await db.insertInto(bits).values({ primaryStorageUuid: psUuid, installPath, ownerUuid, size, basePath }).execute();
  }

  return {
    async takeSnapshot(ps, volume, snapshot) {
      checkSnapshotFault(ps.uuid, 'takeSnapshot');
      const installPath = `${(volume.installPath ?? '').replace(/\/[^/]*$/, '')}/snapshots/${snapshot.uuid}.qcow2`;
      await put(ps.uuid, installPath, snapshot.uuid, volume.size, snapshot.parent?.installPath ?? null);
      return { installPath, size: volume.size, format: volume.format ?? 'qcow2', type: 'Hypervisor' };
    },

    async revertVolume(ps) {
      checkSnapshotFault(ps.uuid, 'revertVolume');
    },

    async mergeSnapshot(ps, snapshot, into) {
      checkSnapshotFault(ps.uuid, 'mergeSnapshot');
      // The volume's own bits are the primary storage simulator's: only the chain of snapshots is kept here.
      if (into.volume) return { size: 0, formerSize: 0 };
      const base = (await db.selectFrom(bits).select('basePath').where('primaryStorageUuid', '=', ps.uuid).where('installPath', '=', snapshot.installPath).executeTakeFirst())?.basePath ?? null;
      const formerSize = Number((await sizeOf(ps.uuid, into.installPath)) ?? 0);
      const size = formerSize + snapshot.size;
      await put(ps.uuid, into.installPath, into.uuid, size, base as string | null);
      return { size, formerSize };
    },

    async rebase(ps, snapshot, into) {
      checkSnapshotFault(ps.uuid, 'rebase');
      if (into.volume) return;
      await put(ps.uuid, into.installPath, into.uuid, into.size, snapshot.installPath);
    },

    async deleteSnapshot(ps, snapshot) {
      checkSnapshotFault(ps.uuid, 'deleteSnapshot');
      await db.deleteFrom(bits).where('primaryStorageUuid', '=', ps.uuid).where('installPath', '=', snapshot.installPath).execute();
    },
  };
}
