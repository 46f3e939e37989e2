import type { CascadeEntry } from '../../core/cascade/index.ts';
import type { NodeContext } from '../../core/node-context.ts';

/**
 * A deleted backup storage takes its image references with it (its copies go with the storage);
 * an image left with no reference at all is deleted too, as ZStack does.
 */
export function imageRefCascadeEntry(ctx: NodeContext): CascadeEntry {
  const { db, tags } = ctx;
  return {
    resource: 'ImageBackupStorageRefVO',
    parents: ['BackupStorageVO'],
    async children(_parent, bsUuids) {
      return (await db.selectFrom('image_backup_storage_ref').select('id').where('backupStorageUuid', 'in', bsUuids).execute()).map((r) => r.id as string);
    },
    async delete(ids) {
      if (!ids.length) return;
      const images = (await db.selectFrom('image_backup_storage_ref').select('imageUuid').distinct().where('id', 'in', ids).execute()).map((r) => r.imageUuid as string);
      await db.deleteFrom('image_backup_storage_ref').where('id', 'in', ids).execute();
      for (const uuid of images) {
        const left = await db.selectFrom('image_backup_storage_ref').select('id').where('imageUuid', '=', uuid).executeTakeFirst();
        if (left) continue;
        await db.deleteFrom('image').where('uuid', '=', uuid).execute();
        await tags.deleteForResources([uuid]);
      }
    },
  };
}
