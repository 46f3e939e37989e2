import type { Kysely } from 'kysely';
import type { PrimaryStorageView } from '../../contracts/primary-storage.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import { loadInventory } from '../../core/resource/resource-store.ts';
import { PrimaryStorageInventory } from './schema.ts';

/** The row as backends and observers see it (numbers as numbers, whatever the driver returned). */
export async function loadPrimaryStorage(db: Kysely<any>, uuid: string): Promise<PrimaryStorageView> {
  return (await loadInventory(db, PrimaryStorageInventory, uuid)) as PrimaryStorageView;
}

/** ZStack's full PrimaryStorageInventory, with the `attachedClusterUuids` list the query rows lack. */
export async function withClusters(db: Kysely<any>, uuid: string): Promise<Record<string, unknown>> {
  const inv = await loadInventory(db, PrimaryStorageInventory, uuid);
  const refs = await db.selectFrom('primary_storage_cluster_ref').select('clusterUuid').where('primaryStorageUuid', '=', uuid).orderBy('createDate').orderBy('id').execute();
  return { ...inv, attachedClusterUuids: refs.map((r) => r.clusterUuid as string) };
}

/** Volumes may be created only on a storage that is Enabled and Connected. */
export function mustBeUsable(ps: PrimaryStorageView): void {
  if (ps.state !== 'Enabled') throw new StratoError(SysErrors.OPERATION_ERROR, `primary storage ${ps.uuid} is ${ps.state}`);
  if (ps.status !== 'Connected') throw new StratoError(SysErrors.OPERATION_ERROR, `primary storage ${ps.uuid} is ${ps.status}, not Connected`);
}
