import { isErrorCode, StratoError, toErrorCode, type ErrorCode, type ErrorKind } from '../errors/index.ts';
import type { CoreLogger } from './logger.ts';

/**
 * Services a flow run hands to its steps through `env.services`. Empty in core: the node bootstrap
 * augments it by declaration merging (`declare module '.../flow/step.ts' { interface FlowServices { bus: Bus } }`)
 * or steps close over their dependencies when their chain is built. Recovery passes the same services.
 */
export interface FlowServices {
  [name: string]: unknown;
}

/** What a step receives besides the chain's context. */
export interface StepEnv {
  /** The flow run's id (the journal row id when journaled). */
  readonly flowId: string;
  readonly chainName: string;
  /** This step's path in the chain, `outer/inner/step`; the name the journal records. */
  readonly path: string;
  /** True when the step runs during crash recovery (only rollbacks run then). */
  readonly recovering: boolean;
  readonly services: FlowServices;
  readonly log: CoreLogger;
  /**
   * Journal the context now, before this step finishes. A step that creates something whose identity
   * it only learns while running records it in ctx and checkpoints, so that a crash right after leaves
   * its rollback enough to find it (write-ahead). A no-op for non-journaled runs.
   */
  checkpoint(): Promise<void>;
}

export type StepRun<Ctx> = (ctx: Ctx, env: StepEnv) => void | StepFailure | Promise<void | StepFailure>;
export type StepRollback<Ctx> = (ctx: Ctx, env: StepEnv) => void | Promise<void>;

/**
 * One named unit of work with its compensation. A step writes into `ctx` exactly what its rollback
 * needs (ids it allocated, paths it created) so that rollback works from the context alone, including
 * after a node restart, when the journaled context is all there is.
 *
 * Rollbacks MUST be idempotent and tolerate a run that never happened or only half-happened: on failure
 * the failing step's own rollback runs, and after a crash the step that was running is rolled back too.
 *
 * @example
 *   export const allocateHost: FlowStep<CreateVmCtx> = {
 *     name: 'allocate-host',
 *     async run(ctx) { ctx.hostUuid = await allocator.allocate(ctx.spec); },
 *     async rollback(ctx) { if (ctx.hostUuid) await allocator.release(ctx.hostUuid, ctx.spec); },
 *   };
 */
export interface FlowStep<Ctx> {
  readonly kind?: 'step';
  readonly name: string;
  run(ctx: Ctx, env: StepEnv): void | StepFailure | Promise<void | StepFailure>;
  /** Use `noRollback` for a step that changes nothing needing compensation; there is no default. */
  rollback(ctx: Ctx, env: StepEnv): void | Promise<void>;
  /** Return true to pass over this step; a skipped step is not rolled back. */
  skip?(ctx: Ctx): boolean;
}

/** The explicit "this step needs no compensation" marker (ZStack's NoRollbackFlow). */
export const noRollback: StepRollback<unknown> = Object.freeze(function noRollback(): void {});

const FAILURE = Symbol('strato.flow.failure');

/** A failure returned (rather than thrown) from a step's `run`. */
export interface StepFailure {
  readonly [FAILURE]: true;
  readonly error: StratoError;
}

/**
 * Fail the current step without throwing.
 *
 * @example
 *   if (!host) return stepFailed(HostErrors.NO_AVAILABLE_HOST, `no host has ${ctx.cpuNum} free CPUs`);
 */
export function stepFailed(kind: ErrorKind | ErrorCode | StratoError, details?: string): StepFailure {
  const error = kind instanceof StratoError ? kind : new StratoError(kind, details);
  return { [FAILURE]: true, error };
}

export function isStepFailure(v: unknown): v is StepFailure {
  return typeof v === 'object' && v !== null && (v as StepFailure)[FAILURE] === true;
}

/** Any thrown value as a StratoError, keeping the original object (and its code) when it is one. */
export function asStratoError(e: unknown): StratoError {
  if (e instanceof StratoError) return e;
  return stratoErrorOf(isErrorCode(e) ? e : toErrorCode(e));
}

/** A StratoError carrying exactly this ErrorCode (every field kept: cause, opaque, elaboration...). */
export function stratoErrorOf(code: ErrorCode): StratoError {
  const err = new StratoError(code, code.details);
  (err as { errorCode: ErrorCode }).errorCode = code;
  return err;
}
