/**
 * ZStack's ErrorCode shape: errors travel as data on the bus and in API replies.
 *
 * @example
 *   throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, 'name is required');
 */
export interface ErrorCode {
  code: string;
  description: string;
  details?: string;
  elaboration?: string;
  location?: string;
  cost?: string;
  cause?: ErrorCode;
  opaque?: Record<string, unknown>;
}

/** A catalog entry: a stable code and the generic description ZStack gives it. */
export interface ErrorKind {
  code: string;
  description: string;
}

/** The one error class of Strato; thrown in handlers, carried as `errorCode` everywhere else. */
export class StratoError extends Error {
  readonly errorCode: ErrorCode;

  constructor(kind: ErrorKind | ErrorCode, details?: string, options?: { cause?: unknown; opaque?: Record<string, unknown> }) {
    const cause = options?.cause === undefined ? undefined : toErrorCode(options.cause);
    const base: ErrorCode = 'details' in kind && details === undefined ? { ...kind } : { code: kind.code, description: kind.description };
    if (details !== undefined) base.details = details;
    if (cause) base.cause = cause;
    if (options?.opaque) base.opaque = options.opaque;
    super(base.details ?? base.description);
    this.name = 'StratoError';
    this.errorCode = base;
  }
}

/** Build an ErrorCode from a catalog kind without throwing. */
export function errorOf(kind: ErrorKind, details?: string, cause?: unknown): ErrorCode {
  return new StratoError(kind, details, { cause }).errorCode;
}

/** Anything thrown becomes an ErrorCode; unknown exceptions become SYS.1000 with their message. */
export function toErrorCode(e: unknown): ErrorCode {
  if (e instanceof StratoError) return e.errorCode;
  if (isErrorCode(e)) return e;
  if (e instanceof Error) return { code: SysErrors.INTERNAL.code, description: SysErrors.INTERNAL.description, details: e.message };
  return { code: SysErrors.INTERNAL.code, description: SysErrors.INTERNAL.description, details: String(e) };
}

export function isErrorCode(v: unknown): v is ErrorCode {
  return typeof v === 'object' && v !== null && typeof (v as ErrorCode).code === 'string' && typeof (v as ErrorCode).description === 'string';
}

/** ZStack's SysErrors (header/errorcode/SysErrors.java): same numbers, so clients that switch on codes keep working. */
export const SysErrors = {
  INTERNAL: { code: 'SYS.1000', description: 'An internal error happened in system' },
  TIMEOUT: { code: 'SYS.1001', description: 'An operation timeout' },
  CREATE_RESOURCE_ERROR: { code: 'SYS.1002', description: 'Failed to create a resource' },
  RESOURCE_NOT_FOUND: { code: 'SYS.1003', description: 'Unable to find a resource' },
  DELETE_RESOURCE_ERROR: { code: 'SYS.1004', description: 'Failed to delete a resource' },
  CHANGE_RESOURCE_STATE_ERROR: { code: 'SYS.1005', description: 'Failed to change the state of a resource' },
  OPERATION_ERROR: { code: 'SYS.1006', description: 'The operation failed' },
  INVALID_ARGUMENT_ERROR: { code: 'SYS.1007', description: 'One or more API argument is invalid' },
  UNKNOWN_MESSAGE_ERROR: { code: 'SYS.1008', description: 'No service can handle the message' },
  NO_ROUTE_ERROR: { code: 'SYS.1009', description: 'No route to the destination service' },
  NOT_READY_ERROR: { code: 'SYS.1010', description: 'The service is not ready' },
  UNDELIVERABLE_ERROR: { code: 'SYS.1011', description: 'The message cannot be delivered' },
  MANAGEMENT_NODE_UNAVAILABLE_ERROR: { code: 'SYS.1012', description: 'The management node is unavailable' },
  NO_CAPABILITY_ERROR: { code: 'SYS.1013', description: 'No capability to do the operation' },
  UNIMPLEMENTED_OPERATION_ERROR: { code: 'SYS.1014', description: 'The operation is not implemented' },
  /** Strato addition: a bounded work queue refused a task. */
  QUEUE_FULL: { code: 'SYS.1100', description: 'Too many pending operations on this resource' },
  /** Strato addition: a flow was rolled back because its node died while running it. */
  FLOW_ABANDONED: { code: 'SYS.1101', description: 'The operation was interrupted by a management node restart and rolled back' },
} as const satisfies Record<string, ErrorKind>;

/** ZStack's IdentityErrors. */
export const IdentityErrors = {
  AUTHENTICATION_ERROR: { code: 'ID.1001', description: 'Authentication failed' },
  INVALID_SESSION: { code: 'ID.1002', description: 'Session expired or invalid' },
  PERMISSION_DENIED: { code: 'ID.1003', description: 'Permission denied' },
  QUOTA_EXCEEDING: { code: 'ID.1004', description: 'Quota exceeding' },
} as const satisfies Record<string, ErrorKind>;
