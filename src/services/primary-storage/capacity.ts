import { sql, type Kysely } from 'kysely';
import { PrimaryStorageErrors, type PrimaryStorageCapacity } from '../../contracts/primary-storage.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';

/** What a reservation of `size` bytes takes from availableCapacity: the size divided by the over-provisioning ratio. */
export function charged(size: number, ratio: number): number {
  return Math.ceil(size / ratio);
}

function checkAmount(n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `a capacity must be a non-negative integer, got ${n}`);
}

/**
 * Takes `amount` bytes from one storage in a single conditional UPDATE that also requires the storage
 * Enabled and Connected: concurrent reservations never overcommit, without locks (DESIGN §3).
 * Returns false when the storage lacks room (or is not usable).
 *
 * @example
 *   if (!(await tryReserve(db, psUuid, charged(size, ratio.get())))) throw …;
 */
export async function tryReserve(db: Kysely<any>, primaryStorageUuid: string, amount: number): Promise<boolean> {
  checkAmount(amount);
  const r = await db
    .updateTable('primary_storage')
    .set({ availableCapacity: sql`availableCapacity - ${amount}`, allocatedCapacity: sql`allocatedCapacity + ${amount}` })
    .where('uuid', '=', primaryStorageUuid)
    .where('state', '=', 'Enabled')
    .where('status', '=', 'Connected')
    .where('availableCapacity', '>=', amount)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Gives back exactly what `tryReserve` took; a storage that is gone has nothing to give back. */
export async function release(db: Kysely<any>, primaryStorageUuid: string, amount: number): Promise<void> {
  checkAmount(amount);
  if (amount === 0) return;
  await db
    .updateTable('primary_storage')
    .set({ availableCapacity: sql`availableCapacity + ${amount}`, allocatedCapacity: sql`allocatedCapacity - ${amount}` })
    .where('uuid', '=', primaryStorageUuid)
    .execute();
}

/**
 * Records what the backend reports. `allocatedCapacity` (hidden) is the sum of every reservation, so
 * the available capacity is what the backend has free minus what is reserved: exact across reconnects,
 * hosts joining a local storage, and reservations made in between. `systemUsedCapacity` is what the
 * storage reports used by anything but Strato's volumes.
 */
export async function applyReportedCapacity(db: Kysely<any>, primaryStorageUuid: string, cap: PrimaryStorageCapacity): Promise<void> {
  await db
    .updateTable('primary_storage')
    .set({
      availableCapacity: sql`${cap.availableCapacity} - allocatedCapacity`,
      totalCapacity: cap.totalCapacity,
      totalPhysicalCapacity: cap.totalPhysicalCapacity,
      availablePhysicalCapacity: cap.availablePhysicalCapacity,
      systemUsedCapacity: Math.max(0, cap.totalCapacity - cap.availableCapacity),
      lastOpDate: Date.now(),
    })
    .where('uuid', '=', primaryStorageUuid)
    .execute();
}

export function insufficient(size: number, where: string): StratoError {
  return new StratoError(PrimaryStorageErrors.INSUFFICIENT_CAPACITY, `no primary storage ${where} has ${size} bytes available`);
}
