import type { Kysely } from 'kysely';
import type { PrimaryStorageView } from '../../contracts/primary-storage.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';

/** The storage row as the backend contract shapes it (this plugin reads its own type's rows). */
export async function loadPrimaryStorageView(db: Kysely<any>, uuid: string): Promise<PrimaryStorageView> {
  const r = await db.selectFrom('primary_storage').selectAll().where('uuid', '=', uuid).executeTakeFirst();
  if (!r) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find PrimaryStorage[uuid:${uuid}]`);
  const n = (k: string) => Number(r[k] ?? 0);
  return {
    uuid, zoneUuid: r.zoneUuid, name: r.name, description: r.description, url: r.url, type: r.type, state: r.state, status: r.status,
    totalCapacity: n('totalCapacity'), availableCapacity: n('availableCapacity'), totalPhysicalCapacity: n('totalPhysicalCapacity'), availablePhysicalCapacity: n('availablePhysicalCapacity'), systemUsedCapacity: n('systemUsedCapacity'),
  };
}
