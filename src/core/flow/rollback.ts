import { StratoError, toErrorCode, type ErrorCode } from '../errors/index.ts';
import { SysErrors } from '../errors/index.ts';
import { currentContext, runWithContext } from '../bus/context.ts';
import type { CoreLogger } from './logger.ts';
import type { FlowPlan } from './plan.ts';
import { noRollback, stratoErrorOf, type StepEnv } from './step.ts';

/** A compensation that failed: recorded, logged, never hiding the error that caused the rollback. */
export interface RollbackFailure {
  step: string;
  error: ErrorCode;
}

/** Rollbacks get their own deadline: the request's may be what just expired, and compensation must still reach the bus. */
export const DEFAULT_ROLLBACK_TIMEOUT_MS = 5 * 60_000;

/**
 * Roll back `paths` (given in run order) in reverse order. Every rollback runs even when an earlier one
 * failed; failures are logged and returned.
 */
export async function rollbackSteps(
  plan: FlowPlan,
  paths: readonly string[],
  ctx: unknown,
  envFor: (path: string) => StepEnv,
  log: CoreLogger,
  timeoutMs = DEFAULT_ROLLBACK_TIMEOUT_MS,
): Promise<RollbackFailure[]> {
  const failures: RollbackFailure[] = [];
  const rc = { ...currentContext(), deadline: Date.now() + timeoutMs };
  await runWithContext(rc, async () => {
    for (let i = paths.length - 1; i >= 0; i--) {
      const path = paths[i];
      const node = plan.steps.get(path);
      if (!node) {
        failures.push({ step: path, error: new StratoError(SysErrors.INTERNAL, `step ${path} is no longer part of chain ${plan.root.chain.name}; cannot roll it back`).errorCode });
        continue;
      }
      if (node.step.rollback === noRollback) continue;
      try {
        await node.step.rollback(ctx, envFor(path));
      } catch (e) {
        const error = toErrorCode(e);
        failures.push({ step: path, error });
        log.error({ err: e, step: path, chain: plan.root.chain.name }, 'flow rollback failed; continuing with the remaining rollbacks');
      }
    }
  });
  return failures;
}

/** The original error, same code, with the failed compensations attached as `opaque.rollbackErrors`. */
export function withRollbackErrors(original: StratoError, failures: readonly RollbackFailure[]): StratoError {
  if (failures.length === 0) return original;
  const code = original.errorCode;
  return stratoErrorOf({ ...code, opaque: { ...code.opaque, rollbackErrors: failures } });
}
