import { AsyncLocalStorage } from 'node:async_hooks';

/** Who is calling: filled by the API layer from the session, carried by every message sent on the call's behalf. */
export interface Caller {
  /** Absent for callers that signed the request with an access key instead of a session. */
  sessionUuid?: string;
  accountUuid: string;
  /** The account's own uuid when the account itself calls; a user's uuid otherwise. */
  userUuid: string;
  accountType: 'SystemAdmin' | 'Normal';
  /** Set when the request was signed with an access key (`Authorization: ZStack <id>:<signature>`). */
  accessKeyId?: string;
}

/**
 * What travels implicitly with a request through messages, queues and flows (ZStack's TaskContext):
 * the absolute deadline, the caller and the API id. Read it with `currentContext()`; the bus, the work
 * queues and the flow engine carry it across async boundaries so nested sends inherit the deadline.
 */
export interface RequestContext {
  /** Absolute deadline, epoch ms. */
  deadline: number;
  caller?: Caller;
  apiId?: string;
}

export const requestContext = new AsyncLocalStorage<RequestContext>();

export function currentContext(): RequestContext | undefined {
  return requestContext.getStore();
}

/** Milliseconds left before the current request's deadline; Infinity outside any request. */
export function remainingTime(now = Date.now()): number {
  const c = requestContext.getStore();
  return c ? c.deadline - now : Number.POSITIVE_INFINITY;
}

export function runWithContext<T>(ctx: RequestContext, fn: () => T): T {
  return requestContext.run(ctx, fn);
}
