import type { Kysely } from 'kysely';
import type { Caller } from '../../core/bus/context.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import { rowToInventory, type NormalizedInventoryDef } from '../../core/query/inventory.ts';
import { findRow, notFound } from '../../core/resource/resource-store.ts';
import { isAdmin } from '../../contracts/identity.ts';

/**
 * Identity rows carry their account: a tenant reaches only its own, and one of another account is
 * answered "not found" (its existence is not disclosed). Administrators reach every account's.
 */
export async function loadOwnedRow(db: Kysely<any>, inv: NormalizedInventoryDef, uuid: string, caller: Caller | undefined): Promise<Record<string, any>> {
  const row = await findRow(db, inv, uuid);
  // an account is its own owner
  if (!row || !mayReach(caller, String(inv.table === 'account' ? row.uuid : row.accountUuid))) throw notFound(inv, uuid);
  return row;
}

export async function loadOwned(db: Kysely<any>, inv: NormalizedInventoryDef, uuid: string, caller: Caller | undefined): Promise<Record<string, any>> {
  return rowToInventory(inv, await loadOwnedRow(db, inv, uuid, caller));
}

export function mayReach(caller: Caller | undefined, accountUuid: string): boolean {
  return isAdmin(caller) || caller?.accountUuid === accountUuid;
}

export function requireCaller(caller: Caller | undefined): Caller {
  if (!caller) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, 'this API needs a caller');
  return caller;
}

/**
 * Runs a create inside its account's queue after checking the account still exists: a user, group,
 * policy or key is never made into an account whose deletion ran just before (the deletion holds the
 * same queue).
 */
export async function inAccount<T>(db: Kysely<any>, queues: { submit<R>(queue: string, fn: () => Promise<R>): Promise<R> }, accountUuid: string, fn: () => Promise<T>): Promise<T> {
  return queues.submit(`account-${accountUuid}`, async () => {
    if (!(await db.selectFrom('account').select('uuid').where('uuid', '=', accountUuid).executeTakeFirst())) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find Account[uuid:${accountUuid}]`);
    return fn();
  });
}
