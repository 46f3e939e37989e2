import { noRollback, type FlowStep } from '../step.ts';
import type { CoreLogger } from '../logger.ts';

/** Test helpers: steps that record their calls in a shared log. */
export interface Trace { calls: string[] }

export function recStep(name: string, trace: Trace, opts: { fail?: Error | (() => unknown); failRollback?: Error; skip?: boolean; noRb?: boolean } = {}): FlowStep<any> {
  return {
    name,
    run() {
      trace.calls.push(`run:${name}`);
      if (opts.fail) {
        if (typeof opts.fail === 'function') return opts.fail() as any;
        throw opts.fail;
      }
    },
    rollback: opts.noRb
      ? noRollback
      : () => {
          trace.calls.push(`rollback:${name}`);
          if (opts.failRollback) throw opts.failRollback;
        },
    ...(opts.skip ? { skip: () => true } : {}),
  };
}

export interface CapturedLog extends CoreLogger { lines: { level: string; obj: object; msg?: string }[] }

export function captureLog(): CapturedLog {
  const lines: CapturedLog['lines'] = [];
  const at = (level: string) => (obj: object, msg?: string) => { lines.push({ level, obj, msg }); };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
