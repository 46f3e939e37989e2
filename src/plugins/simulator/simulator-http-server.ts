import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CALLBACK_URL_HEADER, type DeliverCallback } from '../../core/agent/index.ts';
import type { SimulatedAgent } from './simulated-agent.ts';

/**
 * One node:http server serving many simulated agents, each under `/agents/<address>`; callbacks are
 * POSTed to the `callbackurl` the node sent, exactly as a real agent does.
 */
export class SimulatorHttpServer {
  #server: Server | undefined;
  #baseUrl = '';

  constructor(private readonly lookup: (address: string) => SimulatedAgent | undefined, private readonly onError: (err: unknown) => void) {}

  /** Starts on first use; the URL prefix of agent `address`. */
  async urlOf(address: string): Promise<string> {
    if (!this.#server) await this.#start();
    return `${this.#baseUrl}/agents/${address}`;
  }

  async #start(): Promise<void> {
    const server = createServer((req, res) => {
      void this.#handle(req).then(
        (r) => {
          res.writeHead(r.status, { 'content-type': typeof r.body === 'string' ? 'text/plain' : 'application/json' });
          res.end(typeof r.body === 'string' ? r.body : JSON.stringify(r.body));
        },
        (err) => {
          this.onError(err);
          res.writeHead(500).end(String(err));
        },
      );
    });
    server.keepAliveTimeout = 65_000; // as the real agent's server: idle sockets outlive the node's reuse window
    this.#server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.#baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async #handle(req: IncomingMessage): Promise<{ status: number; body: unknown }> {
    const m = /^\/agents\/([^/]+)(\/.*)$/.exec(req.url ?? '');
    const agent = m && this.lookup(m[1]);
    if (req.method !== 'POST' || !m || !agent) return { status: 404, body: `no simulated agent at ${req.url}` };
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const body = text ? JSON.parse(text) : {};
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v[0] : (v ?? '')]));
    const callbackUrl = headers[CALLBACK_URL_HEADER];
    const deliver: DeliverCallback = (h, b) => {
      const { [CALLBACK_URL_HEADER]: _drop, ...rest } = h;
      fetch(callbackUrl, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8', ...rest }, body: JSON.stringify(b) })
        .then((r) => r.body?.cancel())
        .catch(this.onError);
    };
    return agent.receive(m[2], body, headers, deliver);
  }

  async close(): Promise<void> {
    const s = this.#server;
    this.#server = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
