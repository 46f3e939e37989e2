import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { CONSOLE_PAGE_HTML } from './console-page.ts';
import { refuse, type ConsoleProxy } from './websocket-proxy.ts';

export const CONSOLE_PAGE_PATH = '/console/vnc.html';
export const CONSOLE_WS_PATH = '/console/ws';
/** noVNC's ES modules, served from node_modules/@novnc/novnc (core/ and vendor/), never copied. */
export const NOVNC_PREFIX = '/console/novnc/';

/** `…/node_modules/@novnc/novnc`: its one export is core/rfb.js. */
function novncRoot(): string {
  return dirname(dirname(createRequire(import.meta.url).resolve('@novnc/novnc')));
}

const MODULE_FILE = /^(core|vendor)\/(?:[A-Za-z0-9_-]+\/)*[A-Za-z0-9_.-]+\.js$/;

/** The console's page, noVNC's files and the websocket, on the node's HTTP server. */
export function mountConsoleRoutes(app: FastifyInstance, proxy: ConsoleProxy): void {
  const root = novncRoot();
  app.get(CONSOLE_PAGE_PATH, async (_req, reply) => reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(CONSOLE_PAGE_HTML));
  app.get(`${NOVNC_PREFIX}*`, async (req, reply) => {
    const rel = (req.params as { '*': string })['*'];
    const text = MODULE_FILE.test(rel) && !rel.split('/').includes('..') ? await readFile(join(root, rel)).catch(() => undefined) : undefined;
    if (!text) return reply.code(404).type('text/plain; charset=utf-8').send(`no noVNC file ${rel}`);
    return reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=3600').send(text);
  });
  app.get(CONSOLE_WS_PATH, async (_req, reply) => reply.code(426).header('upgrade', 'websocket').type('text/plain; charset=utf-8').send('the console is a websocket: connect with Upgrade: websocket'));

  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if ((req.url ?? '').split('?')[0] === CONSOLE_WS_PATH) {
      // Never an unhandled rejection on the node: whatever escapes drops this one connection.
      proxy.handleUpgrade(req, socket, head).catch(() => socket.destroy());
      // Another module may serve other upgrades; alone here, nobody else would answer them.
    } else if (app.server.listenerCount('upgrade') === 1) refuse(socket, 404, `no websocket at ${(req.url ?? '').split('?')[0]}`);
  });
  app.addHook('preClose', async () => proxy.close());
}
