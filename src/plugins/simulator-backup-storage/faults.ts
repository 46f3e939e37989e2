import { StratoError, SysErrors } from '../../core/errors/index.ts';

/**
 * Failure injection for simulated backup storages, keyed by the storage's uuid. Process-wide on
 * purpose: tests run their nodes in the test's own process and reach every node's simulator here.
 *
 * @example
 *   injectBackupStorageFault(bs.uuid, 'download');          // every download fails
 *   injectBackupStorageFault(bs.uuid, 'connect', { times: 1 }); // the next connect fails
 *   clearBackupStorageFaults(bs.uuid);
 */
export type SimulatedBackupStorageOp = 'add' | 'connect' | 'download' | 'delete';

interface Fault {
  remaining: number;
  message: string;
}

const faults = new Map<string, Map<SimulatedBackupStorageOp, Fault>>();

export function injectBackupStorageFault(bsUuid: string, op: SimulatedBackupStorageOp, opts: { times?: number; message?: string } = {}): void {
  const byOp = faults.get(bsUuid) ?? new Map<SimulatedBackupStorageOp, Fault>();
  byOp.set(op, { remaining: opts.times ?? Infinity, message: opts.message ?? `injected ${op} failure on simulated backup storage ${bsUuid}` });
  faults.set(bsUuid, byOp);
}

export function clearBackupStorageFaults(bsUuid?: string): void {
  if (bsUuid === undefined) faults.clear();
  else faults.delete(bsUuid);
}

/** Throws the injected failure for this storage and operation, if one is armed. */
export function checkFault(bsUuid: string, op: SimulatedBackupStorageOp): void {
  const fault = faults.get(bsUuid)?.get(op);
  if (!fault || fault.remaining <= 0) return;
  fault.remaining -= 1;
  throw new StratoError(SysErrors.OPERATION_ERROR, fault.message);
}
