import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import type { Caller } from '../bus/context.ts';
import type { NormalizedInventoryDef } from './inventory.ts';
import type { RestrictHook } from './compile-where.ts';

type Eb = ExpressionBuilder<any, any>;

/**
 * Tenant isolation for reads. A normal account sees a row only when the row's resource is one it owns
 * (`account_resource_ref`) or one shared with it or with everyone (`shared_resource`); administrators see
 * everything. The tables belong to the ownership service (its migration creates them); the query engine
 * only reads them, as it reads the tag tables.
 *
 * Each inventory has a policy, `owned` by default, so a new inventory is invisible to tenants until it
 * says otherwise (secure by default):
 *  - `owned`: the row's primary key must be a visible resource;
 *  - `{ via: [columns] }`: the row is visible when any of these columns holds a visible resource
 *    (a NIC through its VM, a tag through its resource, a root volume through its VM);
 *  - `{ account: column }`: rows that name the caller's account in that column (sessions, quotas);
 *  - `{ account: column, adminOnly: true }`: no row for tenants (sessions, whose uuids are credentials);
 *    the column still says whose a row is when a tenant's call refers to one;
 *  - `public`: every row (nothing tenant-specific in it).
 */
export const OWNERSHIP_TABLES = { owners: 'account_resource_ref', shares: 'shared_resource' } as const;

export type TenantPolicy = 'owned' | 'public' | { via: readonly string[] } | { account: string; adminOnly?: true };

const policies = new Map<string, TenantPolicy>();

/** Declares how tenants see an inventory (by inventory name); the last declaration wins. */
export function setTenantPolicy(inventoryName: string, policy: TenantPolicy): void {
  policies.set(inventoryName, policy);
}

export function tenantPolicyOf(inventoryName: string): TenantPolicy {
  return policies.get(inventoryName) ?? 'owned';
}

export function isAdmin(caller: Caller | undefined): boolean {
  return caller === undefined || caller.accountType === 'SystemAdmin';
}

/** `ref IN (owned) OR ref IN (shared with the account or public)`. */
export function visibleResource(eb: Eb, ref: string, accountUuid: string): Expression<SqlBool> {
  const owned = eb.selectFrom(`${OWNERSHIP_TABLES.owners} as own`).select('own.resourceUuid').where('own.accountUuid', '=', accountUuid);
  const shared = eb
    .selectFrom(`${OWNERSHIP_TABLES.shares} as shr`)
    .select('shr.resourceUuid')
    .where((s: Eb) => s.or([s('shr.receiverAccountUuid', '=', accountUuid), s('shr.toPublic', '=', 1)]));
  return eb.or([eb(ref, 'in', owned), eb(ref, 'in', shared)]);
}

function columnRef(def: NormalizedInventoryDef, alias: string, field: string): string {
  const f = def.fields[field];
  if (!f) throw new Error(`tenant policy of ${def.name}: ${field} is not a field`);
  return `${alias}.${f.column}`;
}

/**
 * The restriction of a caller's reads, or undefined for administrators and internal reads (no caller).
 * The query engine applies it to the root of every query, every nested hop, every ZQL sub-query.
 *
 * @example executeQuery(db, registry, 'VmInstanceInventory', { conditions, restrict: tenantRestriction(msg.caller) })
 */
export function tenantRestriction(caller: Caller | undefined): RestrictHook | undefined {
  if (isAdmin(caller)) return undefined;
  const account = caller!.accountUuid;
  return (eb, alias, def) => {
    const policy = tenantPolicyOf(def.name);
    if (policy === 'public') return undefined;
    if (policy === 'owned') return visibleResource(eb, columnRef(def, alias, def.primaryKey), account);
    if ('account' in policy && policy.adminOnly) return sql<SqlBool>`1 = 0`;
    if ('account' in policy) return eb(columnRef(def, alias, policy.account), '=', account);
    return eb.or(policy.via.map((f) => visibleResource(eb, columnRef(def, alias, f), account)));
  };
}
