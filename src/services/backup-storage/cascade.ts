import { BackupStorageLifecyclePoint, BackupStorageTypePoint } from '../../contracts/backup-storage.ts';
import type { CascadeEntry } from '../../core/cascade/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { loadBackupStorage } from './backup-storage-view.ts';

/** A backup storage's own node in the deletion graph (children such as image references go first). */
export function backupStorageCascadeEntry(ctx: NodeContext): CascadeEntry {
  const { db, extensions, tags } = ctx;
  return {
    resource: 'BackupStorageVO',
    parents: [],
    async check(uuids) {
      for (const uuid of uuids) await extensions.callVeto(BackupStorageLifecyclePoint, 'preDelete', await loadBackupStorage(db, uuid));
    },
    async delete(uuids, { force }) {
      for (const uuid of uuids) {
        const row = await db.selectFrom('backup_storage').select('uuid').where('uuid', '=', uuid).executeTakeFirst();
        if (!row) continue;
        const bs = await loadBackupStorage(db, uuid);
        try {
          await extensions.findStrategy(BackupStorageTypePoint, bs.type)?.remove?.(bs);
        } catch (e) {
          if (!force) throw e;
        }
        await db.deleteFrom('backup_storage_zone_ref').where('backupStorageUuid', '=', uuid).execute();
        await db.deleteFrom('backup_storage').where('uuid', '=', uuid).execute();
        await tags.deleteForResources([uuid]);
        await extensions.callSafe(BackupStorageLifecyclePoint, 'afterDelete', bs);
      }
    },
  };
}

/** Deleting a zone detaches its backup storages (ZStack keeps the storages themselves). */
export function backupStorageZoneRefCascadeEntry(ctx: NodeContext): CascadeEntry {
  const { db } = ctx;
  return {
    resource: 'BackupStorageZoneRefVO',
    parents: ['ZoneVO'],
    async children(_parent, zoneUuids) {
      return (await db.selectFrom('backup_storage_zone_ref').select('id').where('zoneUuid', 'in', zoneUuids).execute()).map((r) => r.id as string);
    },
    async delete(ids) {
      if (ids.length) await db.deleteFrom('backup_storage_zone_ref').where('id', 'in', ids).execute();
    },
  };
}
