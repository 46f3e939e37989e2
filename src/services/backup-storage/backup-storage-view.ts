import type { Kysely } from 'kysely';
import type { BackupStorageView } from '../../contracts/backup-storage.ts';
import { loadInventory } from '../../core/resource/resource-store.ts';
import { BackupStorageInventory } from './schema.ts';

/** The row as backends and observers see it (numbers as numbers, whatever the driver returned). */
export async function loadBackupStorage(db: Kysely<any>, uuid: string): Promise<BackupStorageView> {
  return (await loadInventory(db, BackupStorageInventory, uuid)) as BackupStorageView;
}

/** ZStack's full BackupStorageInventory, with the `attachedZoneUuids` list the query rows lack. */
export async function withZones(db: Kysely<any>, uuid: string): Promise<Record<string, unknown>> {
  const inv = await loadInventory(db, BackupStorageInventory, uuid);
  const refs = await db.selectFrom('backup_storage_zone_ref').select('zoneUuid').where('backupStorageUuid', '=', uuid).orderBy('createDate').orderBy('id').execute();
  return { ...inv, attachedZoneUuids: refs.map((r) => r.zoneUuid as string) };
}
