import { PRIMARY_STORAGE_SERVICE, PrimaryStorageLifecyclePoint, PrimaryStorageMessages, PrimaryStorageTypePoint } from '../../contracts/primary-storage.ts';
import type { CascadeEntry } from '../../core/cascade/index.ts';
import { StratoError } from '../../core/errors/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { loadPrimaryStorage } from './primary-storage-view.ts';

/** Primary storages hang under zones; each goes through a message to its owner, in its queue (its volumes go first). */
export function primaryStorageCascadeEntry(ctx: NodeContext): CascadeEntry {
  const { db, extensions, bus } = ctx;
  return {
    resource: 'PrimaryStorageVO',
    parents: ['ZoneVO'],
    async children(_parent, zoneUuids) {
      return (await db.selectFrom('primary_storage').select('uuid').where('zoneUuid', 'in', zoneUuids).execute()).map((r) => r.uuid as string);
    },
    async check(uuids) {
      for (const uuid of uuids) await extensions.callVeto(PrimaryStorageLifecyclePoint, 'preDelete', await loadPrimaryStorage(db, uuid));
    },
    async delete(uuids, { force }) {
      const results = await Promise.all(uuids.map((uuid) => bus.send(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.delete, { uuid, force }, { resourceUuid: uuid })));
      const failed = results.find((r) => !r.success);
      if (failed && !failed.success && !force) throw new StratoError(failed.error);
    },
  };
}

/** Deleting a cluster detaches the primary storages attached to it (ZStack keeps the storages themselves). */
export function primaryStorageClusterRefCascadeEntry(ctx: NodeContext): CascadeEntry {
  const { db, extensions, bus } = ctx;
  return {
    resource: 'PrimaryStorageClusterRefVO',
    parents: ['ClusterVO'],
    async children(_parent, clusterUuids) {
      return (await db.selectFrom('primary_storage_cluster_ref').select('id').where('clusterUuid', 'in', clusterUuids).execute()).map((r) => r.id as string);
    },
    async delete(ids, { force }) {
      if (!ids.length) return;
      const refs = await db.selectFrom('primary_storage_cluster_ref').select(['primaryStorageUuid', 'clusterUuid']).where('id', 'in', ids).execute();
      await db.deleteFrom('primary_storage_cluster_ref').where('id', 'in', ids).execute();
      for (const ref of refs) {
        const psUuid = ref.primaryStorageUuid as string;
        try {
          const ps = await loadPrimaryStorage(db, psUuid);
          await extensions.findStrategy(PrimaryStorageTypePoint, ps.type)?.detachFromCluster?.(ps, ref.clusterUuid as string);
          await bus.call(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.syncCapacity, { uuid: psUuid }, { resourceUuid: psUuid });
          await extensions.callSafe(PrimaryStorageLifecyclePoint, 'afterDetachFromCluster', ps, ref.clusterUuid as string);
        } catch (e) {
          if (!force) throw e;
        }
      }
    },
  };
}
