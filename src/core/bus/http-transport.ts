import { StratoError, SysErrors, isErrorCode } from '../errors/error-code.ts';
import type { Reply } from './message.ts';
import { BUS_EVENTS_PATH, BUS_MESSAGES_PATH, BUS_TOKEN_HEADER, type Peer, type Transport, type WireEvent, type WireMessage } from './transport.ts';

export interface HttpTransportOptions {
  /** Shared cluster secret sent with every request; the peer's endpoint checks it. */
  token?: string;
  /** How long an event POST may take before it is given up (events have no deadline of their own). */
  eventTimeoutMs?: number;
}

/**
 * Reaches peers by POSTing JSON to `<peer.url>/strato/bus/messages` and `/strato/bus/events` with the
 * global fetch (keep-alive connections are pooled by Node's HTTP client).
 *
 * @example
 *   const bus = new Bus({ nodeUuid, metrics, transport: new HttpTransport({ token }) });
 *   bus.setPeers([{ uuid: otherNodeUuid, url: 'http://10.0.0.2:8080' }]);
 */
export class HttpTransport implements Transport {
  private readonly headers: Record<string, string>;
  private readonly eventTimeoutMs: number;

  constructor(opts: HttpTransportOptions = {}) {
    this.headers = { 'content-type': 'application/json' };
    if (opts.token !== undefined) this.headers[BUS_TOKEN_HEADER] = opts.token;
    this.eventTimeoutMs = opts.eventTimeoutMs ?? 30_000;
  }

  async sendMessage(peer: Peer, msg: WireMessage): Promise<Reply> {
    // Give up on the connection when the message's own deadline passes (plus a little for the reply to travel).
    const res = await this.post(peer, BUS_MESSAGES_PATH, msg, Math.max(1, msg.timeoutMs) + 1000);
    const reply = (await res.json()) as Reply;
    if (typeof reply?.success !== 'boolean' || (!reply.success && !isErrorCode(reply.error))) {
      throw new StratoError(SysErrors.UNDELIVERABLE_ERROR, `management node ${peer.uuid} answered ${msg.type} with a malformed reply`);
    }
    return reply;
  }

  async publishEvent(peer: Peer, event: WireEvent): Promise<void> {
    const res = await this.post(peer, BUS_EVENTS_PATH, event, this.eventTimeoutMs);
    await res.arrayBuffer();
  }

  private async post(peer: Peer, path: string, payload: unknown, timeoutMs: number): Promise<Response> {
    const res = await fetch(peer.url.replace(/\/+$/, '') + path, {
      method: 'POST',
      headers: this.headers,
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      throw new StratoError(SysErrors.UNDELIVERABLE_ERROR, `management node ${peer.uuid} answered HTTP ${res.status} at ${path}: ${text.slice(0, 200)}`);
    }
    return res;
  }
}
