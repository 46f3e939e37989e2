import type { Kysely } from 'kysely';
import type { Caller } from '../../core/bus/context.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import { isAdmin, OWNERSHIP_TABLES } from '../../core/query/access-filter.ts';
import { rowToInventory, type InventoryRegistry } from '../../core/query/index.ts';
import { newUuid } from '../../core/util/uuid.ts';
import { SHAREABLE_INVENTORIES } from './policies.ts';
import { ownersOf, type ResourceAccess } from './resource-access.ts';
import { AccountResourceRefInventory } from './schema.ts';

const ADMIN_ACCOUNT_UUID = '36c27e8ff05c4780bf6d2fa65700f22e';

export interface ShareParams {
  resourceUuids: string[];
  accountUuids?: string[];
  toPublic?: boolean;
  all?: boolean;
}

function notFound(uuid: string): StratoError {
  return new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find resource[uuid:${uuid}]`);
}

/** ShareResource, RevokeResourceSharing and ChangeResourceOwner (ZStack's AccountManagerImpl). */
export class Sharing {
  constructor(
    private readonly db: Kysely<any>,
    private readonly inventories: InventoryRegistry,
    private readonly access: ResourceAccess,
  ) {}

  /** The resource type of a shareable resource, or why it cannot be shared. */
  async #shareableType(uuid: string): Promise<string | undefined> {
    for (const name of SHAREABLE_INVENTORIES) {
      const def = this.inventories.find(name);
      if (!def) continue;
      const row = await this.db.selectFrom(def.table).select(def.fields[def.primaryKey].column).where(def.fields[def.primaryKey].column, '=', uuid).executeTakeFirst();
      if (row) return def.resourceType;
    }
    return undefined;
  }

  /** Each resource must exist, be shareable and, for a normal account, be its own; else nothing is shared. */
  async #checked(caller: Caller, uuids: readonly string[]): Promise<Map<string, { type: string; owner: string }>> {
    const owners = await ownersOf(this.db, uuids);
    const out = new Map<string, { type: string; owner: string }>();
    for (const u of new Set(uuids)) {
      const owner = owners.get(u)?.accountUuid ?? ADMIN_ACCOUNT_UUID;
      // Another account's resource is answered as a missing one: its existence is not disclosed.
      if (!isAdmin(caller) && owner !== caller.accountUuid) throw notFound(u);
      const type = await this.#shareableType(u);
      if (!type) {
        if (owners.has(u)) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `resource[uuid:${u}] is a ${owners.get(u)!.resourceType}; only images, L3 networks, instance and disk offerings can be shared`);
        throw notFound(u);
      }
      out.set(u, { type, owner });
    }
    return out;
  }

  async #checkAccounts(accountUuids: readonly string[]): Promise<void> {
    if (accountUuids.length === 0) return;
    const rows = await this.db.selectFrom('account').select('uuid').where('uuid', 'in', [...accountUuids]).execute();
    const known = new Set(rows.map((r) => r.uuid as string));
    const missing = accountUuids.find((u) => !known.has(u));
    if (missing) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find account[uuid:${missing}]`);
  }

  async share(caller: Caller, p: ShareParams): Promise<Record<string, never>> {
    const accounts = [...new Set(p.accountUuids ?? [])];
    if (!p.toPublic && accounts.length === 0) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, 'give accountUuids or toPublic=true');
    const resources = await this.#checked(caller, p.resourceUuids);
    await this.#checkAccounts(accounts);
    const receivers = [...accounts.map((a) => ({ receiverAccountUuid: a, toPublic: false })), ...(p.toPublic ? [{ receiverAccountUuid: '', toPublic: true }] : [])];
    const now = Date.now();
    await this.db.transaction().execute(async (trx) => {
      for (const [uuid, r] of resources) {
        for (const rc of receivers) {
          // Sharing twice is not an error: the existing share stays.
          const exists = await trx.selectFrom(OWNERSHIP_TABLES.shares).select('uuid').where('resourceUuid', '=', uuid).where('receiverAccountUuid', '=', rc.receiverAccountUuid).executeTakeFirst();
          if (exists) continue;
          await trx.insertInto(OWNERSHIP_TABLES.shares).values({ uuid: newUuid(), resourceUuid: uuid, resourceType: r.type, ownerAccountUuid: r.owner, ...rc, createDate: now, lastOpDate: now }).execute();
        }
      }
    });
    return {};
  }

  async revoke(caller: Caller, p: ShareParams): Promise<Record<string, never>> {
    const resources = await this.#checked(caller, p.resourceUuids);
    await this.#checkAccounts([...new Set(p.accountUuids ?? [])]);
    const uuids = [...resources.keys()];
    let q = this.db.deleteFrom(OWNERSHIP_TABLES.shares).where('resourceUuid', 'in', uuids);
    if (!p.all) {
      const receivers = [...(p.accountUuids ?? []), ...(p.toPublic ? [''] : [])];
      if (receivers.length === 0) return {};
      q = q.where('receiverAccountUuid', 'in', receivers);
    }
    await q.execute();
    return {};
  }

  /** Gives a resource to another account; its shares stay (ZStack keeps them too). */
  async changeOwner(resourceUuid: string, accountUuid: string): Promise<{ inventory: Record<string, unknown>; from: string; type: string }> {
    await this.#checkAccounts([accountUuid]);
    const existing = (await ownersOf(this.db, [resourceUuid])).get(resourceUuid);
    const type = existing?.resourceType ?? (await this.#typeOfAny(resourceUuid));
    if (!type) throw notFound(resourceUuid);
    const now = Date.now();
    const row = { resourceUuid, accountUuid, resourceType: type, createDate: now, lastOpDate: now };
    if (existing) await this.db.updateTable(OWNERSHIP_TABLES.owners).set({ accountUuid, lastOpDate: now }).where('resourceUuid', '=', resourceUuid).execute();
    else await this.db.insertInto(OWNERSHIP_TABLES.owners).values(row).execute();
    // What hangs under it and had the same owner (a VM's volumes and NICs, their snapshots) moves along.
    const children = await this.access.childrenOf(resourceUuid);
    if (children.length > 0 && existing) {
      await this.db.updateTable(OWNERSHIP_TABLES.owners).set({ accountUuid, lastOpDate: now }).where('resourceUuid', 'in', children).where('accountUuid', '=', existing.accountUuid).execute();
      // A create's children get their owner rows just after its reply (the ownership interceptor's afterReply):
      // a change right after the create can find none yet. Written here first, the late insert finds them taken.
      const owned = await ownersOf(this.db, children);
      for (const child of children.filter((c) => !owned.has(c))) {
        const def = await this.access.inventoryOf(child);
        if (!def) continue;
        await this.db.insertInto(OWNERSHIP_TABLES.owners).values({ resourceUuid: child, accountUuid, resourceType: def.resourceType, createDate: now, lastOpDate: now }).execute()
          .catch(() => this.db.updateTable(OWNERSHIP_TABLES.owners).set({ accountUuid, lastOpDate: now }).where('resourceUuid', '=', child).where('accountUuid', '=', existing.accountUuid).execute());
      }
    }
    const out = await this.db.selectFrom(OWNERSHIP_TABLES.owners).selectAll().where('resourceUuid', '=', resourceUuid).executeTakeFirstOrThrow();
    return { inventory: rowToInventory(AccountResourceRefInventory, out), from: existing?.accountUuid ?? ADMIN_ACCOUNT_UUID, type };
  }

  /** A resource without an owner row (made before ownership existed, or by the system): found by its uuid in any inventory. */
  async #typeOfAny(uuid: string): Promise<string | undefined> {
    for (const def of this.inventories.list()) {
      if (def.primaryKey !== 'uuid' || def.table === OWNERSHIP_TABLES.owners) continue;
      const row = await this.db.selectFrom(def.table).select('uuid').where('uuid', '=', uuid).executeTakeFirst();
      if (row) return def.resourceType;
    }
    return undefined;
  }
}
