import type { Kysely } from 'kysely';
import type { Caller } from '../../core/bus/context.ts';
import { OWNERSHIP_TABLES, tenantPolicyOf } from '../../core/query/access-filter.ts';
import type { InventoryRegistry, NormalizedInventoryDef } from '../../core/query/index.ts';
import { INFRASTRUCTURE_TYPES } from './policies.ts';

export interface OwnerRow {
  resourceUuid: string;
  accountUuid: string;
  resourceType: string;
}

export async function ownersOf(db: Kysely<any>, uuids: readonly string[]): Promise<Map<string, OwnerRow>> {
  if (uuids.length === 0) return new Map();
  const rows = (await db.selectFrom(OWNERSHIP_TABLES.owners).select(['resourceUuid', 'accountUuid', 'resourceType']).where('resourceUuid', 'in', [...uuids]).execute()) as OwnerRow[];
  return new Map(rows.map((r) => [r.resourceUuid, r]));
}

export async function sharedWith(db: Kysely<any>, uuids: readonly string[], accountUuid: string): Promise<Set<string>> {
  if (uuids.length === 0) return new Set();
  const rows = await db
    .selectFrom(OWNERSHIP_TABLES.shares)
    .select('resourceUuid')
    .where('resourceUuid', 'in', [...uuids])
    .where((eb) => eb.or([eb('receiverAccountUuid', '=', accountUuid), eb('toPublic', '=', true)]))
    .execute();
  return new Set(rows.map((r) => r.resourceUuid as string));
}

/**
 * Decides which uuids of one API call a normal account may not touch.
 *  - The resource the call acts on (its target) must be the caller's own.
 *  - A resource the call merely refers to (an L3 network for a new VM) may also be shared with the
 *    caller, or be infrastructure (zones, clusters, L2 networks…), which tenants use but never own.
 *  - A resource nobody owns through an API (a root volume, a NIC) belongs with its parent: the
 *    inventories whose tenant policy is `via` a parent column answer whose it is.
 */
export class ResourceAccess {
  readonly #viaInventories: NormalizedInventoryDef[];
  readonly #uuidInventories: NormalizedInventoryDef[];
  readonly #accountInventories: NormalizedInventoryDef[];

  constructor(private readonly db: Kysely<any>, inventories: InventoryRegistry) {
    this.#viaInventories = inventories.list().filter((d) => {
      const p = tenantPolicyOf(d.name);
      return typeof p === 'object' && 'via' in p && d.primaryKey === 'uuid' && p.via.some((f) => f !== d.primaryKey);
    });
    // Accounts themselves are left out: naming another account (to share with it) is not touching it.
    this.#accountInventories = inventories.list().filter((d) => {
      const p = tenantPolicyOf(d.name);
      return typeof p === 'object' && 'account' in p && d.primaryKey === 'uuid' && d.name !== 'AccountInventory';
    });
    // Several inventories may share a table (L2 network kinds): look in each table once.
    const tables = new Set<string>();
    this.#uuidInventories = inventories.list().filter((d) => d.primaryKey === 'uuid' && !tables.has(d.table) && tables.add(d.table));
  }

  async forbidden(caller: Caller, targets: readonly string[], references: readonly string[]): Promise<Set<string>> {
    const all = [...new Set([...targets, ...references])];
    const owners = await ownersOf(this.db, all);
    const shared = await sharedWith(this.db, references.filter((u) => owners.get(u)?.accountUuid !== caller.accountUuid), caller.accountUuid);
    const out = new Set<string>();
    for (const u of targets) {
      const o = owners.get(u);
      if (o ? o.accountUuid !== caller.accountUuid : !(await this.#parentOwned(caller, u, true))) out.add(u);
    }
    for (const u of references) {
      if (targets.includes(u)) continue;
      const o = owners.get(u);
      if (!o) {
        if (!(await this.#parentOwned(caller, u))) out.add(u);
      } else if (o.accountUuid !== caller.accountUuid && !shared.has(u) && !INFRASTRUCTURE_TYPES.has(o.resourceType)) out.add(u);
    }
    return out;
  }

  /** Rows that hang under a resource through a `via` policy (a VM's volumes and NICs, a volume's snapshots), a few levels down. */
  async childrenOf(uuid: string, depth = 3): Promise<string[]> {
    const out: string[] = [];
    let level = [uuid];
    for (let d = 0; d < depth && level.length > 0; d++) {
      const next: string[] = [];
      for (const def of this.#viaInventories) {
        const policy = tenantPolicyOf(def.name) as { via: readonly string[] };
        for (const f of policy.via.filter((x) => x !== def.primaryKey)) {
          const rows = await this.db.selectFrom(def.table).select(def.fields.uuid.column).where(def.fields[f].column, 'in', level).execute();
          next.push(...rows.map((r) => r[def.fields.uuid.column] as string));
        }
      }
      out.push(...next);
      level = next;
    }
    return [...new Set(out)];
  }

  /** The inventory whose table holds this uuid, if any. */
  async inventoryOf(uuid: string): Promise<NormalizedInventoryDef | undefined> {
    for (const def of this.#uuidInventories) {
      if (await this.db.selectFrom(def.table).select(def.fields.uuid.column).where(def.fields.uuid.column, '=', uuid).executeTakeFirst()) return def;
    }
    return undefined;
  }

  /** Whether any resource (of any inventory keyed by uuid) or any owner row already has this uuid. */
  async uuidInUse(uuid: string): Promise<boolean> {
    if ((await ownersOf(this.db, [uuid])).size > 0) return true;
    for (const def of this.#uuidInventories) {
      if (await this.db.selectFrom(def.table).select(def.fields.uuid.column).where(def.fields.uuid.column, '=', uuid).executeTakeFirst()) return true;
    }
    return false;
  }

  /**
   * A resource without an owner row: allowed unless it is a row that names another account (a user, a
   * policy, an account itself), a child row whose parent the caller does not own, or — when the call
   * acts on it — a row nobody owns through an API (made by the system, or before ownership was
   * recorded): that is the administrator's. Merely referring to one (a network service provider) is fine.
   */
  async #parentOwned(caller: Caller, uuid: string, isTarget = false): Promise<boolean> {
    for (const def of this.#accountInventories) {
      const column = def.fields[(tenantPolicyOf(def.name) as { account: string }).account].column;
      const row = (await this.db.selectFrom(def.table).select(column).where(def.fields.uuid.column, '=', uuid).executeTakeFirst()) as Record<string, unknown> | undefined;
      if (row) return row[column] === caller.accountUuid;
    }
    for (const def of this.#viaInventories) {
      const policy = tenantPolicyOf(def.name) as { via: readonly string[] };
      const cols = policy.via.filter((f) => f !== def.primaryKey).map((f) => def.fields[f].column);
      const row = (await this.db.selectFrom(def.table).select(cols).where(def.fields[def.primaryKey].column, '=', uuid).executeTakeFirst()) as Record<string, unknown> | undefined;
      if (!row) continue;
      const parents = cols.map((c) => row[c]).filter((v): v is string => typeof v === 'string' && v !== '');
      if (parents.length === 0) return false;
      const owners = await ownersOf(this.db, parents);
      return parents.some((p) => owners.get(p)?.accountUuid === caller.accountUuid);
    }
    if (uuid === caller.accountUuid) return true; // an account is its own owner
    // Not a child row anywhere. A target that exists is the system's; one that does not exist gets the
    // service's own not-found answer either way.
    return !isTarget || !(await this.inventoryOf(uuid));
  }
}
