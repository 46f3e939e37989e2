import type { ApiRegistry } from '../../core/api/api-registry.ts';
import type { Bus } from '../../core/bus/index.ts';
import type { CascadeEntry } from '../../core/cascade/index.ts';
import { StratoError } from '../../core/errors/index.ts';
import type { Kysely } from 'kysely';
import { ACCOUNT_RESOURCE, IdentityEvents } from '../../contracts/identity.ts';
import { OWNERSHIP_TABLES } from '../../core/query/access-filter.ts';
import type { ResourceAccess } from './resource-access.ts';

/** The pseudo-resource "what an account owns", below AccountVO in the cascade graph. */
export const OWNED_RESOURCES = 'AccountResourceRefVO';

/**
 * How an owned resource of each type is removed, in this order (what uses another goes first): the
 * same API calls its owner service answers for a user, sent on the bus as the deleting administrator,
 * so each service deletes its own rows in its own queue (and quotas are given back on the way).
 */
const REMOVALS: ReadonlyArray<[string, readonly string[]]> = [
  ['EipVO', ['DeleteEip']],
  ['VmInstanceVO', ['DestroyVmInstance', 'ExpungeVmInstance']],
  ['VipVO', ['DeleteVip']],
  ['VolumeSnapshotVO', ['DeleteVolumeSnapshot']],
  ['VolumeVO', ['DeleteDataVolume', 'ExpungeDataVolume']],
  ['SecurityGroupVO', ['DeleteSecurityGroup']],
  ['ImageVO', ['DeleteImage', 'ExpungeImage']],
  ['L3NetworkVO', ['DeleteL3Network']],
  ['InstanceOfferingVO', ['DeleteInstanceOffering']],
  ['DiskOfferingVO', ['DeleteDiskOffering']],
];

/**
 * DeleteAccount removes what the account owns before the account itself (contracts/identity.ts), and
 * every share of those resources or to that account.
 */
export function ownedResourcesCascade(db: Kysely<any>, bus: Bus, apis: ApiRegistry, access: ResourceAccess, log: { warn(o: object, m: string): void }): CascadeEntry {
  return {
    resource: OWNED_RESOURCES,
    parents: [ACCOUNT_RESOURCE],
    children: async (_parent, accountUuids) => (await db.selectFrom(OWNERSHIP_TABLES.owners).select('resourceUuid').where('accountUuid', 'in', accountUuids).execute()).map((r) => r.resourceUuid as string),
    async delete(uuids, { force }) {
      const rows = await db.selectFrom(OWNERSHIP_TABLES.owners).select(['resourceUuid', 'resourceType']).where('resourceUuid', 'in', uuids).execute();
      for (const [type, apiNames] of REMOVALS) {
        const ofType = rows.filter((r) => r.resourceType === type).map((r) => r.resourceUuid as string);
        for (const name of apiNames) {
          const api = apis.find(name);
          if (!api) continue;
          for (const uuid of ofType) {
            // Gone already with its parent (a VM's root volume) or by an earlier step of its own removal.
            if (!(await access.inventoryOf(uuid))) continue;
            const r = await bus.send(api.service, api.name, { uuid, ...(api.method === 'DELETE' ? { deleteMode: force ? 'Enforcing' : 'Permissive' } : {}) }, { resourceUuid: uuid });
            if (r.success) continue;
            if (!force) throw new StratoError(r.error);
            log.warn({ error: r.error, uuid, api: name }, 'deleting an account: a resource it owned could not be removed; continuing');
          }
        }
      }
      await db.deleteFrom(OWNERSHIP_TABLES.shares).where('resourceUuid', 'in', uuids).execute();
      await db.deleteFrom(OWNERSHIP_TABLES.owners).where('resourceUuid', 'in', uuids).execute();
    },
  };
}

/** Shares to a deleted account go with it. */
export function forgetDeletedAccounts(db: Kysely<any>, bus: Bus): void {
  bus.subscribe<{ uuid: string }>(IdentityEvents.accountDeleted, async (b) => {
    await db.deleteFrom(OWNERSHIP_TABLES.shares).where('receiverAccountUuid', '=', b.uuid).execute();
  });
}
