import type { ErrorCode } from '../errors/error-code.ts';
import { StratoError, SysErrors } from '../errors/error-code.ts';
import type { Caller } from './context.ts';

/**
 * A request on the bus (ZStack's NeedReplyMessage). Bodies and reply values must be plain JSON data:
 * in-process they are passed by reference, between nodes they travel as JSON.
 */
export interface Message<B = unknown> {
  /** 32 hex characters, unique per message. */
  id: string;
  /** Target service id, e.g. 'zone'. */
  service: string;
  /** Message name, e.g. 'CreateZone' or 'zone.Delete'. */
  type: string;
  body: B;
  /** Routing key: the message runs on the management node owning this UUID on the hash ring. */
  resourceUuid?: string;
  /** Absolute deadline, epoch ms; the handler's RequestContext carries it to nested sends. */
  deadline: number;
  caller?: Caller;
  apiId?: string;
  headers: Readonly<Record<string, string>>;
}

/** Errors travel as data, in ZStack's ErrorCode shape. */
export type Reply<V = unknown> = { success: true; value: V } | { success: false; error: ErrorCode };

/** A broadcast (ZStack's Event): reaches every subscriber on every management node. */
export interface BusEvent<B = unknown> {
  id: string;
  type: string;
  body: B;
  /** The management node that published it. */
  sourceNodeUuid: string;
}

export type EventListener<B = unknown> = (body: B, event: BusEvent<B>) => void | Promise<void>;

/**
 * A service on the bus. `handle` resolves with the reply value; throwing a StratoError replies with its
 * errorCode, any other exception with SYS.1000.
 */
export interface ServiceDefinition {
  id: string;
  handle(msg: Message): Promise<unknown>;
}

/**
 * Hooks around delivery, run on the node that handles the message, in registration order.
 * `beforeDeliver` may throw (or reject with) a StratoError to refuse: that error becomes the reply.
 * `afterReply` observes the reply; what it throws is logged and ignored.
 */
export interface Interceptor {
  name: string;
  beforeDeliver?(msg: Message): void | Promise<void>;
  afterReply?(msg: Message, reply: Reply): void;
}

export interface SendOptions {
  /** Route to the management node owning this resource (and expose it to the handler as msg.resourceUuid). */
  resourceUuid?: string;
  /** Send to this management node, bypassing the ring. */
  nodeUuid?: string;
  /** Upper bound on this call; the caller's own deadline, if earlier, wins. Default: the bus's defaultTimeoutMs. */
  timeoutMs?: number;
  headers?: Record<string, string>;
}

type HandlerMap = Record<string, (msg: Message<any>) => Promise<unknown>>;

/**
 * Build a ServiceDefinition from one handler per message type; other types reply SYS.1008.
 *
 * @example
 *   bus.registerService(serviceFromHandlers('zone', {
 *     CreateZone: async (msg: Message<{ name: string }>) => createZone(msg.body),
 *     DeleteZone: async (msg: Message<{ uuid: string }>) => deleteZone(msg.body.uuid),
 *   }));
 */
export function serviceFromHandlers(id: string, handlers: HandlerMap): ServiceDefinition {
  const table = new Map(Object.entries(handlers));
  return {
    id,
    handle(msg) {
      const h = table.get(msg.type);
      if (h === undefined) return Promise.reject(new StratoError(SysErrors.UNKNOWN_MESSAGE_ERROR, `service ${id} has no handler for ${msg.type}`));
      return h(msg);
    },
  };
}
