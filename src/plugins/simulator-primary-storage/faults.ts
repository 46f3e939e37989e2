import { StratoError, SysErrors } from '../../core/errors/index.ts';

/**
 * Failure injection for simulated primary storages, keyed by the storage's uuid. Process-wide on
 * purpose: tests run their nodes in the test's own process and reach every node's simulator here.
 *
 * @example
 *   injectPrimaryStorageFault(ps.uuid, 'createVolume');            // every volume creation fails
 *   injectPrimaryStorageFault(ps.uuid, 'connect', { times: 1 });   // the next connect fails
 *   clearPrimaryStorageFaults(ps.uuid);
 */
export type SimulatedPrimaryStorageOp = 'add' | 'connect' | 'createVolume' | 'downloadImage' | 'resizeVolume' | 'deleteVolume';

interface Fault {
  remaining: number;
  message: string;
}

const faults = new Map<string, Map<SimulatedPrimaryStorageOp, Fault>>();

export function injectPrimaryStorageFault(psUuid: string, op: SimulatedPrimaryStorageOp, opts: { times?: number; message?: string } = {}): void {
  const byOp = faults.get(psUuid) ?? new Map<SimulatedPrimaryStorageOp, Fault>();
  byOp.set(op, { remaining: opts.times ?? Infinity, message: opts.message ?? `injected ${op} failure on simulated primary storage ${psUuid}` });
  faults.set(psUuid, byOp);
}

export function clearPrimaryStorageFaults(psUuid?: string): void {
  if (psUuid === undefined) faults.clear();
  else faults.delete(psUuid);
}

/** Throws the injected failure for this storage and operation, if one is armed. */
export function checkFault(psUuid: string, op: SimulatedPrimaryStorageOp): void {
  const fault = faults.get(psUuid)?.get(op);
  if (!fault || fault.remaining <= 0) return;
  fault.remaining -= 1;
  throw new StratoError(SysErrors.OPERATION_ERROR, fault.message);
}
