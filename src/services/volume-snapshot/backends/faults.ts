import { StratoError, SysErrors } from '../../../core/errors/index.ts';

/**
 * Failure injection for the simulated snapshot backend, keyed by primary storage uuid. Process-wide
 * on purpose (as the simulator primary storage's own faults are): tests reach every node's backend here.
 *
 * @example
 *   injectSnapshotFault(ps.uuid, 'takeSnapshot', { times: 1 });
 *   clearSnapshotFaults();
 */
export type SimulatedSnapshotOp = 'takeSnapshot' | 'revertVolume' | 'mergeSnapshot' | 'rebase' | 'deleteSnapshot';

const faults = new Map<string, Map<SimulatedSnapshotOp, { remaining: number }>>();

export function injectSnapshotFault(psUuid: string, op: SimulatedSnapshotOp, opts: { times?: number } = {}): void {
  const byOp = faults.get(psUuid) ?? new Map<SimulatedSnapshotOp, { remaining: number }>();
  byOp.set(op, { remaining: opts.times ?? Infinity });
  faults.set(psUuid, byOp);
}

export function clearSnapshotFaults(psUuid?: string): void {
  if (psUuid === undefined) faults.clear();
  else faults.delete(psUuid);
}

export function checkSnapshotFault(psUuid: string, op: SimulatedSnapshotOp): void {
  const f = faults.get(psUuid)?.get(op);
  if (!f || f.remaining <= 0) return;
  f.remaining -= 1;
  throw new StratoError(SysErrors.OPERATION_ERROR, `injected ${op} failure on primary storage ${psUuid}`);
}
