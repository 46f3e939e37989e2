import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

/**
 * One QMP connection to a QEMU (JSON lines over its unix socket): the greeting, `qmp_capabilities`,
 * then commands matched to replies by `id`, and asynchronous events emitted as `event`. `close` is
 * emitted once when the socket ends: QEMU exited (or closed the monitor).
 *
 * @example
 *   const qmp = await QmpClient.connect('/var/lib/strato-agent/vms/<uuid>/qmp.sock');
 *   const status = await qmp.execute<{ status: string }>('query-status');
 */
export class QmpClient extends EventEmitter<{ event: [QmpEvent]; close: [] }> {
  readonly #socket: Socket;
  readonly #pending = new Map<string, Pending>();
  #buffer = '';
  #nextId = 1;
  #closed = false;

  private constructor(socket: Socket) {
    super();
    this.#socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.#onData(chunk));
    socket.on('close', () => this.#onClose());
    socket.on('error', () => this.#onClose());
  }

  /** Connects and negotiates capabilities; retries until `timeoutMs` while QEMU creates the socket. */
  static async connect(path: string, timeoutMs = 10_000): Promise<QmpClient> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const socket = await new Promise<Socket>((resolve, reject) => {
          const s = connect(path);
          s.once('connect', () => {
            s.off('error', reject);
            resolve(s);
          });
          s.once('error', reject);
        });
        const client = new QmpClient(socket);
        await client.#greeting();
        await client.execute('qmp_capabilities');
        return client;
      } catch (e) {
        if (Date.now() > deadline) throw new Error(`no QMP on ${path}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  #greetingWaiter: Pending | undefined;

  #greeting(): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#greetingWaiter = { resolve, reject };
      setTimeout(() => reject(new Error('QMP greeting timed out')), 5000).unref();
    });
  }

  /** Runs a QMP command; rejects with QEMU's error description. */
  execute<T = Record<string, unknown>>(command: string, args?: Record<string, unknown>, timeoutMs = 30_000): Promise<T> {
    if (this.#closed) return Promise.reject(new Error(`QMP closed: cannot run ${command}`));
    const id = String(this.#nextId++);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`QMP ${command} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.#socket.write(`${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}), id })}\n`);
    });
  }

  /** Resolves with the first event named `name` matching `pred`, or rejects after `timeoutMs`. */
  waitForEvent(name: string, pred: (e: QmpEvent) => boolean = () => true, timeoutMs = 30_000): Promise<QmpEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('event', on);
        reject(new Error(`no QMP event ${name} within ${timeoutMs} ms`));
      }, timeoutMs);
      const on = (e: QmpEvent) => {
        if (e.event !== name || !pred(e)) return;
        clearTimeout(timer);
        this.off('event', on);
        resolve(e);
      };
      this.on('event', on);
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  #onData(chunk: string): void {
    this.#buffer += chunk;
    let nl: number;
    while ((nl = this.#buffer.indexOf('\n')) >= 0) {
      const line = this.#buffer.slice(0, nl).trim();
      this.#buffer = this.#buffer.slice(nl + 1);
      if (!line) continue;
      let msg: Record<string, any>;
      try {
        msg = JSON.parse(line) as Record<string, any>;
      } catch {
        continue;
      }
      if (msg.QMP) {
        this.#greetingWaiter?.resolve(msg.QMP);
        this.#greetingWaiter = undefined;
      } else if (msg.event) this.emit('event', msg as QmpEvent);
      else if (msg.id !== undefined) {
        const p = this.#pending.get(String(msg.id));
        if (!p) continue;
        this.#pending.delete(String(msg.id));
        if (msg.error) p.reject(new Error(`${msg.error.class as string}: ${msg.error.desc as string}`));
        else p.resolve(msg.return);
      }
    }
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#greetingWaiter?.reject(new Error('QMP socket closed'));
    for (const p of this.#pending.values()) p.reject(new Error('QMP socket closed (QEMU exited?)'));
    this.#pending.clear();
    this.emit('close');
  }
}
