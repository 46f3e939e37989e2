import { sql, type Kysely } from 'kysely';
import { HostErrors, type CapacityRequest } from '../../contracts/host.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';

/** Memory a reservation takes from the host: the request divided by the over-provisioning ratio. */
export function memoryCharged(memorySize: number, memoryRatio: number): number {
  return Math.ceil(memorySize / memoryRatio);
}

function check(req: CapacityRequest): void {
  if (!Number.isInteger(req.cpuNum) || req.cpuNum < 0 || !Number.isInteger(req.memorySize) || req.memorySize < 0) {
    throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `capacity must be non-negative integers, got cpuNum=${req.cpuNum} memorySize=${req.memorySize}`);
  }
}

/**
 * Takes CPU and memory from a host in one conditional UPDATE: it succeeds only if both are there,
 * so concurrent reservations never overcommit, without locks or a queue (DESIGN §3).
 *
 * @example
 *   await reserveCapacity(db, { hostUuid, cpuNum: 2, memorySize: 2 * 1024 ** 3 }, memoryRatio.get());
 */
export async function reserveCapacity(db: Kysely<any>, req: CapacityRequest, memoryRatio: number): Promise<void> {
  check(req);
  const mem = memoryCharged(req.memorySize, memoryRatio);
  const r = await db
    .updateTable('host')
    .set({ availableCpuCapacity: sql`availableCpuCapacity - ${req.cpuNum}`, availableMemoryCapacity: sql`availableMemoryCapacity - ${mem}` })
    .where('uuid', '=', req.hostUuid)
    .where('availableCpuCapacity', '>=', req.cpuNum)
    .where('availableMemoryCapacity', '>=', mem)
    .executeTakeFirst();
  if (Number(r.numUpdatedRows) === 1) return;
  const host = await db.selectFrom('host').select(['availableCpuCapacity', 'availableMemoryCapacity']).where('uuid', '=', req.hostUuid).executeTakeFirst();
  if (!host) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find Host[uuid:${req.hostUuid}]`);
  throw new StratoError(HostErrors.INSUFFICIENT_CAPACITY, `host ${req.hostUuid} has ${host.availableCpuCapacity} CPU and ${host.availableMemoryCapacity} bytes of memory available; ${req.cpuNum} CPU and ${mem} bytes were asked`);
}

/** Gives back what `reserveCapacity` took (never above the totals); a host that is gone has nothing to give back. */
export async function releaseCapacity(db: Kysely<any>, req: CapacityRequest, memoryRatio: number): Promise<void> {
  check(req);
  const mem = memoryCharged(req.memorySize, memoryRatio);
  await db
    .updateTable('host')
    .set({
      availableCpuCapacity: sql`CASE WHEN availableCpuCapacity + ${req.cpuNum} > totalCpuCapacity THEN totalCpuCapacity ELSE availableCpuCapacity + ${req.cpuNum} END`,
      availableMemoryCapacity: sql`CASE WHEN availableMemoryCapacity + ${mem} > totalMemoryCapacity THEN totalMemoryCapacity ELSE availableMemoryCapacity + ${mem} END`,
    })
    .where('uuid', '=', req.hostUuid)
    .execute();
}
