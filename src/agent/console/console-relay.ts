import type { IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { CONSOLE_RELAY_PATH_PREFIX, CONSOLE_RELAY_PROTOCOL } from '../../contracts/console.ts';

/** What the relay needs to know of the VMs: the loopback VNC port QEMU listens on (undefined: not running here). */
export type VncPortOf = (vmInstanceUuid: string) => number | undefined;

/** An HTTP Upgrade route of the agent's server (see AgentHttpServer's `upgradeRoutes`). */
export interface UpgradeRoute {
  prefix: string;
  handle(req: IncomingMessage, socket: Duplex, head: Buffer, authorized: boolean): void;
}

const UUID = /^[0-9a-f]{32}$/;

/**
 * The agent's console relay: QEMU's VNC listens on 127.0.0.1 only, which the management node cannot
 * reach. An upgrade `GET /console/<vmUuid>` carrying the host's agent token gets `101` and then the
 * VM's VNC bytes both ways; the node frames them for the browser. Closing either side closes both.
 */
export class ConsoleRelay implements UpgradeRoute {
  readonly prefix = CONSOLE_RELAY_PATH_PREFIX;
  readonly #open = new Set<Socket | Duplex>();

  constructor(private readonly d: { vncPortOf: VncPortOf; log: Logger; connectTimeoutMs?: number }) {}

  /** Connections being relayed now (for tests and metrics). */
  get openCount(): number {
    return this.#open.size / 2;
  }

  handle(req: IncomingMessage, socket: Duplex, head: Buffer, authorized: boolean): void {
    socket.on('error', () => socket.destroy());
    const vmUuid = (req.url ?? '').split('?')[0].slice(this.prefix.length);
    if (!authorized) {
      this.d.log.warn({ from: req.socket.remoteAddress, vmUuid }, 'refused a console relay without the right token');
      return refuse(socket, 401, 'missing or wrong agent token');
    }
    if (String(req.headers.upgrade ?? '').toLowerCase() !== CONSOLE_RELAY_PROTOCOL) return refuse(socket, 400, `the console relay speaks Upgrade: ${CONSOLE_RELAY_PROTOCOL}`);
    if (!UUID.test(vmUuid)) return refuse(socket, 400, `not a VM uuid: ${vmUuid}`);
    const port = this.d.vncPortOf(vmUuid);
    if (port === undefined) return refuse(socket, 404, `VM ${vmUuid} is not running on this host (or has no VNC display)`);

    const vnc = connect({ host: '127.0.0.1', port, timeout: this.d.connectTimeoutMs ?? 10_000 });
    // The node may give up while VNC is still being reached: the VNC connection must not outlive it.
    const dropVnc = () => vnc.destroy();
    socket.once('close', dropVnc);
    const fail = (e: Error) => {
      this.d.log.warn({ vmUuid, port, err: e.message }, 'console relay: VNC unreachable');
      vnc.destroy();
      refuse(socket, 502, `the VNC server of VM ${vmUuid} does not answer: ${e.message}`);
    };
    vnc.once('error', fail);
    vnc.once('timeout', () => fail(new Error('connect timed out')));
    vnc.once('connect', () => {
      vnc.off('error', fail);
      vnc.setTimeout(0);
      socket.off('close', dropVnc);
      if (socket.destroyed) return void vnc.destroy();
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${CONSOLE_RELAY_PROTOCOL}\r\nConnection: Upgrade\r\n\r\n`);
      if (head.length) vnc.write(head);
      this.#splice(socket, vnc);
      this.d.log.info({ vmUuid, port, from: req.socket.remoteAddress }, 'console relay opened');
    });
  }

  /** Ends every relayed connection (the agent stops). */
  closeAll(): void {
    for (const s of this.#open) s.destroy();
    this.#open.clear();
  }

  #splice(a: Duplex, b: Duplex): void {
    this.#open.add(a);
    this.#open.add(b);
    const close = () => {
      a.destroy();
      b.destroy();
      this.#open.delete(a);
      this.#open.delete(b);
    };
    for (const s of [a, b]) {
      s.on('error', close);
      s.on('close', close);
    }
    a.pipe(b);
    b.pipe(a);
  }
}

/** An HTTP error on a socket that was never upgraded, then closed. */
function refuse(socket: Duplex, status: number, message: string): void {
  if (socket.destroyed) return;
  const reason = { 400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found', 502: 'Bad Gateway' }[status] ?? 'Error';
  const body = Buffer.from(message);
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${message}`);
}
