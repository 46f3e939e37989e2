import { Kysely } from 'kysely';
import { StratoError, SysErrors } from '../errors/index.ts';
import { currentContext, requestContext, runWithContext } from '../bus/context.ts';
import { newUuid } from '../util/uuid.ts';
import type { FlowChain } from './chain.ts';
import { FlowJournal, type FlowJournalEntry } from './journal.ts';
import { defaultLogger, type CoreLogger } from './logger.ts';
import type { PlanChain, PlanNode, PlanStep, FlowPlan } from './plan.ts';
import { FlowRegistry } from './registry.ts';
import { DEFAULT_ROLLBACK_TIMEOUT_MS, rollbackSteps, withRollbackErrors } from './rollback.ts';
import { asStratoError, isStepFailure, noRollback, type FlowServices, type StepEnv } from './step.ts';
import { recoverUnfinishedFlows, type RecoveryReport } from './recovery.ts';

export interface FlowEngineOptions {
  registry: FlowRegistry;
  /** Journal runs in this database (a Kysely instance or an opened `Database`); without it runs are in-memory only. */
  db?: Kysely<any> | { db: Kysely<any>; kind?: string };
  /** Share journal commits between concurrent flows; default on for SQLite (a `Database` with kind 'sqlite'). */
  groupCommit?: boolean;
  /** This management node's uuid, written into journal rows; required with `db`. */
  nodeUuid?: string;
  log?: CoreLogger;
  services?: FlowServices;
  rollbackTimeoutMs?: number;
}

export interface RunOptions {
  /** Journal this run (default: whenever the engine has a database). The chain must be registered. */
  journal?: boolean;
  /** The resource the flow works on, stored in the journal so a new owner can find its flows. */
  resourceUuid?: string;
  /** Narrow the deadline for this run (never widens the current request's). */
  timeoutMs?: number;
}

/**
 * Runs flow chains: steps in order; on failure (thrown or `stepFailed`) every executed step, the
 * failing one included, is rolled back in reverse order, and the run rejects with the original error
 * (same code; failed compensations in `opaque.rollbackErrors`). Steps run inside the current
 * RequestContext, so bus calls inherit its deadline; a deadline passed between steps fails the run
 * with SYS.1001.
 *
 * Journaled runs write one row at start, one update before each step after the first that has a
 * rollback (recording the steps completed so far and the ctx), and one final update, so a node that
 * dies mid-flow has the flow rolled back by `recoverUnfinishedFlows`.
 *
 * @example
 *   const engine = new FlowEngine({ registry, db: database, nodeUuid });
 *   const ctx = await engine.run(createVmChain, { vmUuid, spec }, { resourceUuid: vmUuid });
 */
export class FlowEngine {
  readonly registry: FlowRegistry;
  readonly journal?: FlowJournal;
  readonly nodeUuid: string;
  readonly #log: CoreLogger;
  readonly #services: FlowServices;
  readonly #rollbackTimeoutMs: number;
  readonly #inFlight = new Set<string>();

  constructor(opts: FlowEngineOptions) {
    this.registry = opts.registry;
    if (opts.db) {
      if (!opts.nodeUuid) throw new StratoError(SysErrors.INTERNAL, 'a journaling FlowEngine needs its nodeUuid');
      const isKysely = opts.db instanceof Kysely;
      const groupCommit = opts.groupCommit ?? (!isKysely && (opts.db as { kind?: string }).kind === 'sqlite');
      this.journal = new FlowJournal(isKysely ? (opts.db as Kysely<any>) : (opts.db as { db: Kysely<any> }).db, { groupCommit });
    }
    this.nodeUuid = opts.nodeUuid ?? 'local';
    this.#log = opts.log ?? defaultLogger('strato.flow');
    this.#services = opts.services ?? {};
    this.#rollbackTimeoutMs = opts.rollbackTimeoutMs ?? DEFAULT_ROLLBACK_TIMEOUT_MS;
  }

  /** Ids of the journaled flows this engine is running now (recovery must leave them alone). */
  get inFlight(): ReadonlySet<string> {
    return this.#inFlight;
  }

  /** Run a chain over `ctx` (mutated in place by the steps) and resolve with it. */
  async run<Ctx extends object>(chain: FlowChain<Ctx>, ctx: Ctx, opts: RunOptions = {}): Promise<Ctx> {
    const journaled = opts.journal ?? this.journal !== undefined;
    if (journaled) {
      if (!this.journal) throw new StratoError(SysErrors.INTERNAL, `cannot journal flow ${chain.name}: the engine has no database`);
      if (this.registry.getChain(chain.name) !== chain) {
        throw new StratoError(SysErrors.INTERNAL, `flow ${chain.name} must be registered in the FlowRegistry to be journaled (recovery finds it by name)`);
      }
    }
    const run = new ChainRun(this, this.registry.plan(chain), ctx, journaled ? this.journal : undefined, this.#log, this.#services, this.#rollbackTimeoutMs);
    const body = () => run.execute(opts.resourceUuid ?? null);
    if (opts.timeoutMs === undefined) return body().then(() => ctx);
    const current = currentContext();
    const deadline = Math.min(current?.deadline ?? Number.POSITIVE_INFINITY, Date.now() + opts.timeoutMs);
    return runWithContext({ ...current, deadline }, body).then(() => ctx);
  }

  /** `recoverUnfinishedFlows` with this engine's registry, database and services, sparing the flows it is running. */
  async recover(opts: { from?: string | ((e: FlowJournalEntry) => boolean) } = {}): Promise<RecoveryReport[]> {
    if (!this.journal) return [];
    const from = opts.from ?? this.nodeUuid;
    return recoverUnfinishedFlows({
      db: this.journal.db,
      registry: this.registry,
      ...(typeof from === 'string' ? { nodeUuid: from } : { owns: from }),
      claimAs: this.nodeUuid,
      log: this.#log,
      services: this.#services,
      rollbackTimeoutMs: this.#rollbackTimeoutMs,
      skipIds: this.#inFlight,
    });
  }

  /** @internal */
  track(id: string, on: boolean): void {
    if (on) this.#inFlight.add(id);
    else this.#inFlight.delete(id);
  }
}

/** Thrown (internally) when another node took the journal row over: we must stop and not compensate twice. */
class FencedError extends StratoError {}

/** The state of one run: the executed list, the journal cursor, the env factory. */
class ChainRun {
  readonly id = newUuid();
  readonly #executed: string[] = [];
  #pendingFlush = false;
  #current: string | undefined;

  constructor(
    readonly engine: FlowEngine,
    readonly plan: FlowPlan,
    readonly ctx: object,
    readonly journal: FlowJournal | undefined,
    readonly log: CoreLogger,
    readonly services: FlowServices,
    readonly rollbackTimeoutMs: number,
  ) {}

  get chainName(): string {
    return this.plan.root.chain.name;
  }

  async execute(resourceUuid: string | null): Promise<void> {
    const j = this.journal;
    if (j) {
      try {
        await j.start({ id: this.id, chainName: this.chainName, resourceUuid, nodeUuid: this.engine.nodeUuid, ctx: journalCtx(this.ctx), now: Date.now() });
      } catch (e) {
        throw asStratoError(e); // nothing ran yet: nothing to roll back
      }
      this.engine.track(this.id, true);
    }
    try {
      await this.#runNode(this.plan.root);
      // A caller whose deadline passed has been told the operation timed out: finishing anyway would
      // leave a resource the API said was not made, so a late finish rolls back like a failure.
      const rc = requestContext.getStore();
      if (rc && Date.now() >= rc.deadline) throw new StratoError(SysErrors.TIMEOUT, `flow ${this.chainName} finished after its deadline`);
      // The final update also records the last step: a crash before it rolls that step back like any interrupted one.
      if (j && !(await j.finish(this.id, this.engine.nodeUuid, 'Done', journalCtx(this.ctx), JSON.stringify(this.#executed), null, Date.now()))) {
        throw this.#fenced();
      }
    } catch (e) {
      await this.#fail(e);
    } finally {
      if (j) this.engine.track(this.id, false);
    }
  }

  async #runNode(node: PlanNode): Promise<void> {
    if (node.kind === 'chain') return this.#runChain(node);
    const step = node.step;
    const rc = requestContext.getStore();
    if (rc && Date.now() >= rc.deadline) {
      throw new StratoError(SysErrors.TIMEOUT, `flow ${this.chainName} passed its deadline before step ${node.path}`);
    }
    if (step.skip?.(this.ctx)) return;
    // Write-ahead: the previous step's completion is journaled before this one may touch anything. A step
    // without rollback leaves nothing to undo, so it may start first: a crash in it then looks like a
    // crash at the end of the step before (rolled back with the ctx it began with, as any interrupted
    // step is), and the next step that has a rollback journals both.
    if (this.#pendingFlush && step.rollback !== noRollback) await this.#flush();
    this.#current = node.path;
    const r = await step.run(this.ctx, this.#env(node));
    if (isStepFailure(r)) throw r.error;
    this.#current = undefined;
    this.#executed.push(node.path);
    this.#pendingFlush = this.journal !== undefined;
  }

  async #runChain(node: PlanChain): Promise<void> {
    if (node !== this.plan.root && node.chain.skip?.(this.ctx)) return;
    for (const child of node.children) await this.#runNode(child);
  }

  async #flush(): Promise<void> {
    this.#pendingFlush = false;
    const ok = await this.journal!.progress(this.id, this.engine.nodeUuid, journalCtx(this.ctx), JSON.stringify(this.#executed), Date.now());
    if (!ok) throw this.#fenced();
  }

  async #fail(e: unknown): Promise<never> {
    const original = asStratoError(e);
    if (!(e instanceof StratoError)) this.log.error({ err: e, chain: this.chainName, step: this.#current }, 'flow step threw a non-StratoError');
    // Taken over: the new owner rolls back from the journal; compensating here too would race it.
    if (e instanceof FencedError) throw e;
    const paths = this.#current ? [...this.#executed, this.#current] : this.#executed;
    this.log.warn({ chain: this.chainName, flowId: this.id, step: this.#current, err: original.errorCode }, 'flow failed; rolling back');
    const failures = await rollbackSteps(this.plan, paths, this.ctx, (p) => this.#env(this.plan.steps.get(p)!), this.log, this.rollbackTimeoutMs);
    const final = withRollbackErrors(original, failures);
    if (this.journal) {
      try {
        await this.journal.finish(this.id, this.engine.nodeUuid, failures.length ? 'RollbackFailed' : 'RolledBack', journalCtx(this.ctx), JSON.stringify(paths), final.errorCode, Date.now());
      } catch (je) {
        // The row stays Running: recovery will roll back again, which idempotent rollbacks allow.
        this.log.error({ err: je, chain: this.chainName, flowId: this.id }, 'could not record the rolled-back flow in the journal');
      }
    }
    throw final;
  }

  #fenced(): FencedError {
    return new FencedError(SysErrors.FLOW_ABANDONED, `flow ${this.chainName} (${this.id}) was taken over by another management node`);
  }

  #env(node: PlanStep): StepEnv {
    return {
      flowId: this.id,
      chainName: this.chainName,
      path: node.path,
      recovering: false,
      services: this.services,
      log: this.log,
      checkpoint: async () => {
        if (!this.journal) return;
        const ok = await this.journal.progress(this.id, this.engine.nodeUuid, journalCtx(this.ctx), JSON.stringify(this.#executed), Date.now());
        if (!ok) throw this.#fenced();
      },
    };
  }
}

/**
 * Run a chain in memory (no journal), with an optional registry for insertion points.
 *
 * @example
 *   await runChain(validateChain, { spec });
 */
export async function runChain<Ctx extends object>(chain: FlowChain<Ctx>, ctx: Ctx, opts: { registry?: FlowRegistry; log?: CoreLogger; services?: FlowServices; timeoutMs?: number } = {}): Promise<Ctx> {
  const engine = new FlowEngine({ registry: opts.registry ?? new FlowRegistry(), log: opts.log, services: opts.services });
  return engine.run(chain, ctx, { journal: false, timeoutMs: opts.timeoutMs });
}

/**
 * A chain's context as the journal keeps it, without credentials: an API's password or SSH key may sit
 * in a chain's context while it runs (AddKVMHost), and the journal outlives the chain. A rollback after
 * a crash must find what it needs elsewhere (the plugin's own rows), never in the journal.
 */
const SECRET_KEY = /password|privatekey|secret/i;
export function journalCtx(ctx: unknown): string {
  // A replacer function makes JSON.stringify several times slower, and the ctx is written on every step:
  // the plain text is used whenever no secret-like name occurs anywhere in it (a key or a value).
  const plain = JSON.stringify(ctx);
  if (!SECRET_KEY.test(plain)) return plain;
  return JSON.stringify(ctx, (key, value: unknown) => (key && SECRET_KEY.test(key) ? undefined : value));
}
