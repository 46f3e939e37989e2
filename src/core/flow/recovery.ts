import { Kysely } from 'kysely';
import { StratoError, SysErrors, type ErrorCode } from '../errors/index.ts';
import { FlowJournal, type FlowJournalEntry } from './journal.ts';
import { defaultLogger, type CoreLogger } from './logger.ts';
import { findInterruptedStep } from './plan.ts';
import type { FlowRegistry } from './registry.ts';
import { DEFAULT_ROLLBACK_TIMEOUT_MS, rollbackSteps, withRollbackErrors, type RollbackFailure } from './rollback.ts';
import type { FlowServices, StepEnv } from './step.ts';

export interface RecoverOptions {
  db: Kysely<any> | { db: Kysely<any> };
  registry: FlowRegistry;
  /** Take over the Running flows of this node (our own uuid at boot, or a dead node's uuid). */
  nodeUuid?: string;
  /** Or choose rows with a predicate (e.g. "resource now hashes to us"); combined with nodeUuid when both are given. */
  owns?: (entry: FlowJournalEntry) => boolean;
  /** The node doing the recovery, written into claimed rows; defaults to `nodeUuid`. */
  claimAs?: string;
  log?: CoreLogger;
  services?: FlowServices;
  rollbackTimeoutMs?: number;
  /** Flow ids to leave alone (the caller's own in-flight runs). */
  skipIds?: ReadonlySet<string>;
}

export interface RecoveryReport {
  flowId: string;
  chainName: string;
  resourceUuid: string | null;
  state: 'RolledBack' | 'RollbackFailed';
  /** The paths rolled back, in the order their rollbacks ran. */
  rolledBack: string[];
  rollbackErrors: RollbackFailure[];
}

/**
 * Roll back the flows a dead node left Running. For each row chosen (and claimed, so two nodes never
 * recover one flow), the chain is found by name in the registry and the executed steps are rolled back
 * in reverse order with the journaled ctx. The step that was running when the node died counts as
 * executed: it may have half-happened, so its rollback runs too (rollbacks must be idempotent and
 * tolerate a run that never started). The row ends RolledBack, or RollbackFailed with the errors.
 *
 * Only call it for rows no live engine is running: at boot before the node takes work (own uuid),
 * or for a node the cluster declared dead.
 *
 * @example
 *   await recoverUnfinishedFlows({ db: database, registry: flows, nodeUuid: myNodeUuid });
 */
export async function recoverUnfinishedFlows(opts: RecoverOptions): Promise<RecoveryReport[]> {
  if (opts.nodeUuid === undefined && opts.owns === undefined) {
    throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, 'recoverUnfinishedFlows needs nodeUuid or owns');
  }
  const claimAs = opts.claimAs ?? opts.nodeUuid;
  if (!claimAs) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, 'recoverUnfinishedFlows needs claimAs when choosing rows by predicate');
  const journal = new FlowJournal(opts.db instanceof Kysely ? opts.db : opts.db.db);
  const log = opts.log ?? defaultLogger('strato.flow');
  const reports: RecoveryReport[] = [];
  for (const row of await journal.running(opts.nodeUuid)) {
    if (opts.skipIds?.has(row.id)) continue;
    if (opts.owns && !opts.owns(row)) continue;
    const claimed = await journal.claim(row, claimAs, Date.now());
    if (!claimed) continue; // another node got it first, or the flow moved on: not abandoned after all
    try {
      reports.push(await recoverOne(journal, claimed, claimAs, opts, log));
    } catch (e) {
      // One unreadable row (bad ctx JSON, journal write failing) must not keep the others from recovering.
      log.error({ err: e, flowId: row.id, chain: row.chainName }, 'could not recover an interrupted flow');
      const error = new StratoError(SysErrors.FLOW_ABANDONED, `flow ${row.chainName} (${row.id}) could not be rolled back`, { cause: e }).errorCode;
      await journal.finish(row.id, claimAs, 'RollbackFailed', row.ctx, JSON.stringify(row.executed), error, Date.now()).catch(() => false);
      reports.push({ flowId: row.id, chainName: row.chainName, resourceUuid: row.resourceUuid, state: 'RollbackFailed', rolledBack: [], rollbackErrors: [{ step: row.chainName, error }] });
    }
  }
  return reports;
}

async function recoverOne(journal: FlowJournal, row: FlowJournalEntry, claimAs: string, opts: RecoverOptions, log: CoreLogger): Promise<RecoveryReport> {
  const abandoned = new StratoError(SysErrors.FLOW_ABANDONED, `flow ${row.chainName} (${row.id}) was interrupted on node ${row.nodeUuid} and rolled back`);
  const chain = opts.registry.getChain(row.chainName);
  let ctx: unknown;
  let paths = row.executed;
  let failures: RollbackFailure[];
  if (!chain) {
    failures = [{ step: row.chainName, error: new StratoError(SysErrors.INTERNAL, `no chain named ${row.chainName} is registered on this node`).errorCode }];
  } else {
    ctx = JSON.parse(row.ctx);
    const plan = opts.registry.plan(chain);
    const interrupted = findInterruptedStep(plan, row.executed, ctx);
    if (interrupted) paths = [...row.executed, interrupted.path];
    log.warn({ flowId: row.id, chain: row.chainName, executed: paths, fromNode: row.nodeUuid }, 'rolling back a flow interrupted by a node stop');
    const envFor = (path: string): StepEnv => ({
      flowId: row.id,
      chainName: row.chainName,
      path,
      recovering: true,
      services: opts.services ?? {},
      log,
      checkpoint: async () => {},
    });
    failures = await rollbackSteps(plan, paths, ctx, envFor, log, opts.rollbackTimeoutMs ?? DEFAULT_ROLLBACK_TIMEOUT_MS);
  }
  const state = failures.length ? 'RollbackFailed' : 'RolledBack';
  const error: ErrorCode = withRollbackErrors(abandoned, failures).errorCode;
  await journal.finish(row.id, claimAs, state, ctx === undefined ? row.ctx : JSON.stringify(ctx), JSON.stringify(paths), error, Date.now());
  return { flowId: row.id, chainName: row.chainName, resourceUuid: row.resourceUuid, state, rolledBack: [...paths].reverse(), rollbackErrors: failures };
}
