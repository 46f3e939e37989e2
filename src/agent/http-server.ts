import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { AGENT_TOKEN_HEADER, CALLBACK_URL_HEADER, TASK_UUID_HEADER } from '../core/agent/index.ts';
import type { CommandContext, CommandHandler, CommandRegistry } from './command-registry.ts';
import type { AgentMetrics } from './metrics.ts';

export interface AgentHttpOptions {
  host: string;
  port: number;
  token: string;
  commands: CommandRegistry;
  metrics: AgentMetrics;
  log: Logger;
  /** Extra GET routes (image downloads from a backup-storage agent); they check the token themselves. */
  getRoutes?: Array<{ prefix: string; handle(req: IncomingMessage, res: ServerResponse, authorized: boolean): Promise<void> }>;
  /** HTTP Upgrade routes (the console relay); they check the token themselves, as GET routes do. */
  upgradeRoutes?: Array<{ prefix: string; handle(req: IncomingMessage, socket: Duplex, head: Buffer, authorized: boolean): void }>;
  /** Signs the reports long commands send (download progress) as the agent's other reports are signed. */
  signReport?: (commandPath: string, body: string) => Record<string, string>;
}

/**
 * The agent's HTTP face: `POST <path>` with a JSON command, authenticated by the per-host token.
 * Synchronous commands answer in the reply; asynchronous ones answer 200 `{}` at once and POST
 * `{success, error?, …}` to `callbackurl` with the same `taskuuid` (the node registered the task first).
 */
export class AgentHttpServer {
  #server: Server | undefined;
  readonly #token: Buffer;

  constructor(private readonly opts: AgentHttpOptions) {
    this.#token = Buffer.from(opts.token);
  }

  async listen(): Promise<string> {
    const server = createServer((req, res) => {
      this.#route(req, res).catch((e: unknown) => {
        this.opts.log.error({ err: e, url: req.url }, 'request failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(e));
      });
    });
    // Node closes idle keep-alive sockets after 5 s and the node's fetch reuses them for 4 s: a command
    // sent near that edge (or late, on a loaded machine) meets a socket the agent is closing and fails
    // with "other side closed". Keeping idle sockets much longer than commands are apart avoids it.
    server.keepAliveTimeout = 65_000;
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const path = (req.url ?? '/').split('?')[0];
      const route = req.method === 'GET' ? this.opts.upgradeRoutes?.find((r) => path.startsWith(r.prefix)) : undefined;
      socket.on('error', () => socket.destroy());
      if (route) {
        try {
          return route.handle(req, socket, head, this.#authorized(req));
        } catch (e) {
          this.opts.log.error({ err: e, url: req.url }, 'upgrade failed');
          return socket.destroy();
        }
      }
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    });
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const a = server.address() as AddressInfo;
    return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  }

  async close(): Promise<void> {
    const s = this.#server;
    this.#server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  #authorized(req: IncomingMessage): boolean {
    const given = req.headers[AGENT_TOKEN_HEADER];
    const b = Buffer.from(typeof given === 'string' ? given : '');
    return b.length === this.#token.length && timingSafeEqual(b, this.#token);
  }

  async #route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      res.writeHead(200, { 'content-type': this.opts.metrics.registry.contentType });
      res.end(await this.opts.metrics.registry.metrics());
      return;
    }
    if (req.method === 'GET') {
      const route = this.opts.getRoutes?.find((r) => path.startsWith(r.prefix));
      if (route) return route.handle(req, res, this.#authorized(req));
    }
    const def = req.method === 'POST' ? this.opts.commands.get(path) : undefined;
    if (!def) return send(res, 404, `no command ${req.method} ${path}`);
    if (!this.#authorized(req)) {
      this.opts.metrics.refused.inc();
      this.opts.log.warn({ path, from: req.socket.remoteAddress }, 'refused a command without the right token');
      return send(res, 401, 'missing or wrong agent token');
    }
    let cmd: unknown;
    try {
      const text = await readBody(req);
      cmd = text ? JSON.parse(text) : {};
    } catch (e) {
      return send(res, 400, `the body is not JSON: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (def.sync) return send(res, 200, await this.#execute(path, def.handler, cmd, {}));
    const taskUuid = header(req, TASK_UUID_HEADER);
    const callbackUrl = header(req, CALLBACK_URL_HEADER);
    if (!taskUuid || !callbackUrl) return send(res, 400, `an asynchronous command needs the ${TASK_UUID_HEADER} and ${CALLBACK_URL_HEADER} headers`);
    send(res, 200, {});
    const result = await this.#execute(path, def.handler, cmd, { taskUuid, callbackUrl, signReport: this.opts.signReport });
    await this.#callBack(path, callbackUrl, taskUuid, result);
  }

  async #execute(path: string, handler: CommandHandler, cmd: unknown, ctx: CommandContext): Promise<Record<string, unknown>> {
    const end = this.opts.metrics.commandSeconds.startTimer({ path });
    try {
      const r = (await handler(cmd, ctx)) as Record<string, unknown> | undefined;
      this.opts.metrics.commands.inc({ path, outcome: 'success' });
      return { ...(r ?? {}), success: true };
    } catch (e) {
      this.opts.metrics.commands.inc({ path, outcome: 'failure' });
      const error = e instanceof Error ? e.message : String(e);
      this.opts.log.warn({ path, error }, 'command failed');
      return { success: false, error };
    } finally {
      end();
    }
  }

  async #callBack(path: string, url: string, taskUuid: string, body: Record<string, unknown>): Promise<void> {
    // The node may be restarting: a few tries, then the node's own timeout answers the caller.
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8', [TASK_UUID_HEADER]: taskUuid }, body: JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
        await r.body?.cancel();
        return;
      } catch (e) {
        this.opts.log.warn({ path, taskUuid, attempt, err: e instanceof Error ? e.message : String(e) }, 'callback to the management node failed');
        await new Promise((r) => setTimeout(r, 1000 * (attempt + 1)));
      }
    }
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8' });
  res.end(text);
}
