import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { ExtensionRegistry } from '../../core/plugin/index.ts';
import { consoleTargetOf } from './console-target.ts';
import type { ConsoleTokens } from './console-tokens.ts';

export interface ConsoleProxyDeps {
  db: Kysely<any>;
  extensions: ExtensionRegistry;
  tokens: ConsoleTokens;
  log: Logger;
  /** How long reaching the VM's console (the host agent's relay) may take. */
  openTimeoutMs: number;
  metrics?: Registry;
}

/** A Sec-WebSocket-Key: 16 bytes in base64. */
const WS_KEY = /^[+/0-9A-Za-z]{22}==$/;

/**
 * The management node's websocket to a VM's VNC: `GET /console/ws?token=…` upgraded here only when
 * the token is consumed (one use, before expiry), the VM is still Running and its console opens;
 * otherwise a plain HTTP error before any upgrade. Then websocket frames ↔ VNC bytes, and closing
 * either side closes both. `ws` does the websocket protocol (Node 20 has no websocket server).
 */
export class ConsoleProxy {
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: 4 * 1024 * 1024 });
  readonly #open = new Set<() => void>();
  readonly #refused: Counter<'reason'>;

  constructor(private readonly d: ConsoleProxyDeps) {
    const registers = d.metrics ? [d.metrics] : [];
    this.#refused = new Counter({ name: 'strato_console_refused_total', help: 'console websockets refused before the upgrade, by reason', labelNames: ['reason'] as const, registers });
    const open = this.#open;
    new Gauge({ name: 'strato_console_open', help: 'console websockets this node carries now', registers, collect() { this.set(open.size); } });
  }

  get openCount(): number {
    return this.#open.size;
  }

  async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    const token = new URL(req.url ?? '/', 'http://node').searchParams.get('token');
    if (!token) return this.#refuse(socket, 'token', 401, 'a console websocket needs ?token= (from RequestConsoleAccess)');
    // A handshake `ws` would refuse must not spend the token (or open a console nobody reads).
    if (String(req.headers.upgrade ?? '').toLowerCase() !== 'websocket' || !WS_KEY.test(String(req.headers['sec-websocket-key'] ?? '')) || req.headers['sec-websocket-version'] !== '13') {
      return this.#refuse(socket, 'request', 400, 'not a websocket handshake (Upgrade: websocket, Sec-WebSocket-Key, Sec-WebSocket-Version: 13)');
    }
    const grant = await this.d.tokens.consume(token).catch((e: unknown) => {
      this.d.log.error({ err: e }, 'console: reading the token failed');
      return undefined;
    });
    if (!grant) return this.#refuse(socket, 'token', 403, 'the console token is unknown, expired or already used: request a new one with RequestConsoleAccess');
    const failed = (status: number, e: unknown) => {
      const why = e instanceof StratoError ? e.errorCode.details ?? e.message : e instanceof Error ? e.message : String(e);
      this.d.log.warn({ vm: grant.vmInstanceUuid, status, err: why }, 'console: cannot open the VM console');
      this.#refuse(socket, status === 502 ? 'unreachable' : 'vm', status, why);
    };
    // The VM may have stopped, moved or gone since the token was issued: asked again now.
    let found: Awaited<ReturnType<typeof consoleTargetOf>>;
    try {
      found = await consoleTargetOf(this.d.db, this.d.extensions, grant.vmInstanceUuid);
    } catch (e) {
      return failed(e instanceof StratoError && e.errorCode.code === SysErrors.RESOURCE_NOT_FOUND.code ? 404 : 409, e);
    }
    let vnc: Duplex;
    try {
      vnc = await found.backend.open(found.target, { timeoutMs: this.d.openTimeoutMs });
    } catch (e) {
      return failed(502, e);
    }
    if (socket.destroyed) {
      vnc.destroy();
      return;
    }
    let upgraded = false;
    socket.once('close', () => {
      if (!upgraded) vnc.destroy();
    });
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      upgraded = true;
      const stream = createWebSocketStream(ws);
      const close = () => {
        stream.destroy();
        vnc.destroy();
        this.#open.delete(close);
      };
      this.#open.add(close);
      for (const s of [stream, vnc]) {
        s.on('error', close);
        s.on('close', close);
      }
      stream.pipe(vnc);
      vnc.pipe(stream);
      // The VM side may have gone while the handshake finished: no close event will come for it.
      if (vnc.destroyed || ws.readyState !== ws.OPEN) close();
      this.d.log.info({ vm: grant.vmInstanceUuid, from: req.socket.remoteAddress }, 'console opened');
    });
  }

  #refuse(socket: Duplex, reason: 'token' | 'request' | 'vm' | 'unreachable', status: number, message: string): void {
    this.#refused.inc({ reason });
    refuse(socket, status, message);
  }

  /** Ends every console connection (the node stops). */
  close(): void {
    for (const close of [...this.#open]) close();
    this.#wss.close();
  }
}

/** An HTTP error on a socket that was never upgraded, then closed. */
export function refuse(socket: Duplex, status: number, message: string): void {
  if (socket.destroyed) return;
  const reason = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 502: 'Bad Gateway' }[status] ?? 'Error';
  const body = Buffer.from(message);
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${message}`);
}
