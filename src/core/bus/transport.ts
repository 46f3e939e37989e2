import type { Caller } from './context.ts';
import type { Reply } from './message.ts';

/** A management node the bus can reach: its UUID (its name on the ring) and base URL, e.g. 'http://10.0.0.2:8080'. */
export interface Peer {
  uuid: string;
  url: string;
}

/**
 * A message as it crosses nodes. It carries the REMAINING time, not the absolute deadline, so the
 * receiver's deadline does not depend on the two nodes' clocks agreeing.
 */
export interface WireMessage {
  id: string;
  service: string;
  type: string;
  body: unknown;
  resourceUuid?: string;
  timeoutMs: number;
  caller?: Caller;
  apiId?: string;
  headers: Record<string, string>;
  sourceNodeUuid: string;
}

export interface WireEvent {
  id: string;
  type: string;
  body: unknown;
  sourceNodeUuid: string;
}

/**
 * How the bus reaches other management nodes. `sendMessage` resolves with the peer's reply; it
 * rejects only when the message could not be delivered (a StratoError says why; anything else is
 * reported as SYS.1012 MANAGEMENT_NODE_UNAVAILABLE).
 */
export interface Transport {
  sendMessage(peer: Peer, msg: WireMessage): Promise<Reply>;
  publishEvent(peer: Peer, event: WireEvent): Promise<void>;
}

export const BUS_MESSAGES_PATH = '/strato/bus/messages';
export const BUS_EVENTS_PATH = '/strato/bus/events';
/** Header carrying the shared cluster token between management nodes. */
export const BUS_TOKEN_HEADER = 'x-strato-bus-token';
