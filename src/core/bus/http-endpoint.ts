import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { IdentityErrors, SysErrors, errorOf } from '../errors/error-code.ts';
import type { Bus } from './bus.ts';
import type { Reply } from './message.ts';
import { BUS_EVENTS_PATH, BUS_MESSAGES_PATH, BUS_TOKEN_HEADER, type WireEvent, type WireMessage } from './transport.ts';

type Headers = Record<string, string | string[] | undefined>;

/** What the REST server mounts for the inter-node bus: always answer HTTP 200 with the returned JSON. */
export interface BusHttpEndpoint {
  /** `POST /strato/bus/messages`: the parsed JSON body in, the Reply out (errors as data). */
  handleMessage(body: unknown, headers?: Headers): Promise<Reply>;
  /** `POST /strato/bus/events`: the parsed JSON body in, `{ success: true }` (or a failure Reply) out. */
  handleEvent(body: unknown, headers?: Headers): Promise<Reply>;
}

/**
 * The receiving side of HttpTransport. With `token`, requests without the same `x-strato-bus-token`
 * header are refused (ID.1001): these endpoints run any service as any caller, so expose them only to
 * management nodes.
 *
 * @example
 *   const ep = createBusHttpEndpoint(bus, { token });
 *   fastify.post(BUS_MESSAGES_PATH, (req) => ep.handleMessage(req.body, req.headers));
 *   fastify.post(BUS_EVENTS_PATH, (req) => ep.handleEvent(req.body, req.headers));
 */
export function createBusHttpEndpoint(bus: Bus, opts: { token?: string } = {}): BusHttpEndpoint {
  const expected = opts.token === undefined ? undefined : Buffer.from(opts.token);
  const authorised = (headers: Headers | undefined): boolean => {
    if (expected === undefined) return true;
    const got = headers?.[BUS_TOKEN_HEADER];
    if (typeof got !== 'string') return false;
    const b = Buffer.from(got);
    return b.length === expected.length && timingSafeEqual(b, expected);
  };
  const refused = (): Reply => ({ success: false, error: errorOf(IdentityErrors.AUTHENTICATION_ERROR, 'missing or wrong management node token') });
  return {
    async handleMessage(body, headers) {
      if (!authorised(headers)) return refused();
      return bus.receiveMessage(body as WireMessage);
    },
    async handleEvent(body, headers) {
      if (!authorised(headers)) return refused();
      bus.receiveEvent(body as WireEvent);
      return { success: true, value: null };
    },
  };
}

/**
 * A plain `node:http` request listener serving the two bus paths (404 elsewhere): for tests and for
 * running the bus on a port of its own.
 */
export function createBusRequestListener(endpoint: BusHttpEndpoint, maxBodyBytes = 64 * 1024 * 1024): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'POST' || (path !== BUS_MESSAGES_PATH && path !== BUS_EVENTS_PATH)) {
      res.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBodyBytes) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        const r: Reply = { success: false, error: errorOf(SysErrors.INVALID_ARGUMENT_ERROR, 'bus request body is not JSON') };
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify(r));
        return;
      }
      const handled = path === BUS_MESSAGES_PATH ? endpoint.handleMessage(body, req.headers) : endpoint.handleEvent(body, req.headers);
      void handled.then((reply) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply)));
    });
  };
}
