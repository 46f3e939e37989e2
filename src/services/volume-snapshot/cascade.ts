import { SnapshotLifecyclePoint, VOLUME_SNAPSHOT_SERVICE, VolumeSnapshotMessages, type VolumeSnapshotView } from '../../contracts/volume-snapshot.ts';
import type { CascadeEntry } from '../../core/cascade/index.ts';
import { StratoError } from '../../core/errors/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { loadInventory } from '../../core/resource/resource-store.ts';
import { VolumeSnapshotInventory } from './schema.ts';

/** Snapshots hang under their volume: expunging it (its primary storage going) deletes them first, in the volume's queue. */
export function volumeSnapshotCascadeEntry(ctx: NodeContext): CascadeEntry {
  const { db, bus, extensions } = ctx;
  return {
    resource: 'VolumeSnapshotVO',
    parents: ['VolumeVO'],
    async children(_parent, volumeUuids) {
      return (await db.selectFrom('volume_snapshot').select('uuid').where('volumeUuid', 'in', volumeUuids).execute()).map((r) => r.uuid as string);
    },
    async check(uuids) {
      for (const uuid of uuids) await extensions.callVeto(SnapshotLifecyclePoint, 'preDelete', (await loadInventory(db, VolumeSnapshotInventory, uuid)) as VolumeSnapshotView);
    },
    async delete(uuids, { force }) {
      const volumes = uuids.length ? (await db.selectFrom('volume_snapshot').select('volumeUuid').distinct().where('uuid', 'in', uuids).execute()).map((r) => r.volumeUuid as string) : [];
      const results = await Promise.all(volumes.map((volumeUuid) => bus.send(VOLUME_SNAPSHOT_SERVICE, VolumeSnapshotMessages.deleteForVolume, { volumeUuid, force }, { resourceUuid: volumeUuid })));
      const failed = results.find((r) => !r.success);
      if (failed && !failed.success && !force) throw new StratoError(failed.error);
    },
  };
}
