import type { Kysely } from 'kysely';
import { loadInventory } from '../../core/resource/resource-store.ts';
import { rowToInventory } from '../../core/query/inventory.ts';
import { ImageBackupStorageRefInventory, ImageInventory } from './schema.ts';

/** ZStack's full ImageInventory: the row plus its `backupStorageRefs` list. */
export async function imageWithRefs(db: Kysely<any>, uuid: string): Promise<Record<string, unknown>> {
  const inv = await loadInventory(db, ImageInventory, uuid);
  const refs = await db.selectFrom('image_backup_storage_ref').selectAll().where('imageUuid', '=', uuid).orderBy('createDate').orderBy('backupStorageUuid').execute();
  return { ...inv, backupStorageRefs: refs.map((r) => rowToInventory(ImageBackupStorageRefInventory, r as Record<string, unknown>)) };
}
