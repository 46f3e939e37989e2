import { StratoError, SysErrors, errorOf, type ErrorCode } from '../errors/error-code.ts';
import type { Expirable } from './deadline-wheel.ts';
import type { Message, Reply } from './message.ts';

export const ok = (value: unknown): Reply => ({ success: true, value });
export const fail = (error: ErrorCode): Reply => ({ success: false, error });

/** Reply → value, or throw its error as a StratoError (what `bus.call` resolves/rejects with). */
export function unwrap(reply: Reply): any {
  if (reply.success) return reply.value;
  throw new StratoError(reply.error);
}

export function timeoutError(msg: Message, when: string): ErrorCode {
  return errorOf(SysErrors.TIMEOUT, `${msg.service}/${msg.type} (message ${msg.id}) ${when}`);
}

interface Settler {
  settle(pc: PendingCall, reply: Reply, timedOut: boolean): void;
}

/** A call waiting for its reply: exactly one of reply, timeout or node loss settles it (the bus checks `settled`). */
export class PendingCall implements Expirable {
  wheelBucket = 0;
  settled = false;
  /** Set when the call went to another node, so that node's departure can fail it. */
  peerUuid: string | undefined;
  constructor(
    readonly msg: Message,
    readonly resolve: (r: Reply) => void,
    private readonly owner: Settler,
  ) {}
  expire(): void {
    this.owner.settle(this, fail(timeoutError(this.msg, 'timed out waiting for its reply')), true);
  }
}
