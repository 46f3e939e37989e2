import type { Kysely } from 'kysely';
import { rowByKey } from '../db/rows-by-key.ts';
import { StratoError, SysErrors } from '../errors/index.ts';
import { rowToInventory, type NormalizedInventoryDef } from '../query/inventory.ts';

/**
 * Row access shared by every resource service: load by uuid (or fail with ZStack's
 * "unable to find" error), and patch columns with `lastOpDate` kept current.
 */
export async function findRow(db: Kysely<any>, inv: NormalizedInventoryDef, uuid: string): Promise<Record<string, unknown> | undefined> {
  // Read for nearly every operation (a VM create reads its VM row four times): SQL text built once.
  return rowByKey(db, inv.table, '*', inv.fields[inv.primaryKey].column, uuid);
}

export async function loadInventory(db: Kysely<any>, inv: NormalizedInventoryDef, uuid: string): Promise<Record<string, any>> {
  const row = await findRow(db, inv, uuid);
  if (!row) throw notFound(inv, uuid);
  return rowToInventory(inv, row);
}

export function notFound(inv: NormalizedInventoryDef, uuid: string): StratoError {
  return new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find ${inv.resourceType.replace(/VO$/, '')}[uuid:${uuid}]`);
}

/** Updates the given columns (and lastOpDate) of one row; fails with RESOURCE_NOT_FOUND when it is gone. */
export async function patchRow(db: Kysely<any>, inv: NormalizedInventoryDef, uuid: string, patch: Record<string, unknown>): Promise<Record<string, any>> {
  const values = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
  if ('lastOpDate' in inv.fields) values.lastOpDate = Date.now();
  const r = await db.updateTable(inv.table).set(values).where(inv.fields[inv.primaryKey].column, '=', uuid).executeTakeFirst();
  if (Number(r.numUpdatedRows) === 0) throw notFound(inv, uuid);
  return loadInventory(db, inv, uuid);
}

/** `enable`/`disable` → `Enabled`/`Disabled`, ZStack's state machine for zones, clusters and hosts. */
export function stateAfter(stateEvent: 'enable' | 'disable'): 'Enabled' | 'Disabled' {
  return stateEvent === 'enable' ? 'Enabled' : 'Disabled';
}
