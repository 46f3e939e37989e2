/**
 * The load generator's side of bench:scale: a keep-alive node:http client (cheaper per request than
 * fetch, and bounded sockets so a burst of 10,000 requests does not open 10,000 connections), a
 * webhook server that receives async results (a client that does not poll), and a pool runner.
 */
import { createHash } from 'node:crypto';
import { Agent, request, createServer, type Server } from 'node:http';
import { newUuid } from '../../src/core/util/uuid.ts';

export interface Reply {
  status: number;
  body: any;
}

export class Client {
  readonly #agent: Agent;
  session = '';

  constructor(readonly base: string, sockets = 256) {
    this.#agent = new Agent({ keepAlive: true, maxSockets: sockets });
  }

  /**
   * One request; the body is parsed as JSON when it is JSON. With `headOnly` the body is read to its end
   * but only its first 256 bytes are kept, as text: for timed reads whose content a check already looked
   * at, so the load generator's CPU (it shares the node's cores) goes to requests, not to decoding.
   */
  send(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, headOnly = false): Promise<Reply> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const h: Record<string, string> = { ...headers };
    if (this.session) h.Authorization = `OAuth ${this.session}`;
    if (payload !== undefined) h['Content-Type'] = 'application/json';
    return new Promise((resolve, reject) => {
      const url = new URL(path.startsWith('http') ? path : `${this.base}/zstack/v1${path}`);
      const req = request(url, { method, headers: h, agent: this.#agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => {
          if (!headOnly || chunks.length === 0) chunks.push(c);
        });
        res.on('end', () => {
          if (headOnly) return resolve({ status: res.statusCode ?? 0, body: chunks[0]?.toString('utf8', 0, 256) ?? '' });
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : {};
          } catch {
            // plain-text answers (transport errors) stay text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  async login(): Promise<void> {
    const r = await this.send('PUT', '/accounts/login', { logInByAccount: { accountName: 'admin', password: createHash('sha512').update('password').digest('hex') } });
    if (r.status !== 200) throw new Error(`login answered ${r.status}: ${JSON.stringify(r.body)}`);
    this.session = r.body.inventory.uuid;
  }

  /** An API call to its end: async ones polled (for setup calls; measured calls use `Hooks`). */
  async call(method: string, path: string, body?: unknown): Promise<any> {
    const r = await this.send(method, path, body);
    if (r.status === 202) {
      for (;;) {
        const poll = await this.send('GET', r.body.location);
        if (poll.status === 200) return poll.body;
        if (poll.status !== 202) throw new Error(`${method} ${path}: ${JSON.stringify(poll.body.error ?? poll.body)}`);
        await new Promise((res) => setTimeout(res, 20));
      }
    }
    if (r.status !== 200) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body?.error ?? r.body)}`);
    return r.body;
  }

  async setConfig(category: string, name: string, value: string | number | boolean): Promise<void> {
    await this.call('PUT', `/global-configurations/${category}/${name}/actions`, { updateGlobalConfig: { value: String(value) } });
  }

  close(): void {
    this.#agent.destroy();
  }
}

export interface AsyncResult {
  ok: boolean;
  /** From sending the request to its result arriving, ms. */
  ms: number;
  /** From sending the request to its 202 (accepted), ms. */
  acceptedMs: number;
  body: string;
}

/** Async calls whose results come back by X-Web-Hook to a local server. */
export class Hooks {
  readonly #waiting = new Map<string, (ok: boolean, body: string) => void>();
  #server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        res.end('ok');
        const job = String(req.headers['x-job-uuid']);
        const done = this.#waiting.get(job);
        this.#waiting.delete(job);
        done?.(req.headers['x-job-success'] === 'true', body);
      });
    });
    server.keepAliveTimeout = 65_000;
    this.#server = server;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(server.address() as { port: number }).port}/done`;
  }

  /** Send one async call; resolves when its result arrives (or at once when it is refused). */
  async run(client: Client, method: string, path: string, body: unknown): Promise<AsyncResult> {
    const job = newUuid();
    const t0 = performance.now();
    const done = new Promise<{ ok: boolean; body: string }>((r) => this.#waiting.set(job, (ok, b) => r({ ok, body: b })));
    let r: Reply;
    try {
      r = await client.send(method, path, body, { 'X-Job-UUID': job, 'X-Web-Hook': this.url });
    } catch (e) {
      this.#waiting.delete(job);
      return { ok: false, ms: performance.now() - t0, acceptedMs: NaN, body: String(e) };
    }
    const acceptedMs = performance.now() - t0;
    if (r.status !== 202) {
      this.#waiting.delete(job);
      return { ok: false, ms: acceptedMs, acceptedMs, body: `HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 200)}` };
    }
    const res = await done;
    return { ok: res.ok, ms: performance.now() - t0, acceptedMs, body: res.body };
  }

  async close(): Promise<void> {
    const s = this.#server;
    if (s) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  }
}

/** Runs `count` tasks with `concurrency` workers; task i gets its index. */
export async function pool<T>(count: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(count);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) {
      const i = next++;
      out[i] = await task(i);
    }
  }));
  return out;
}

export const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

export function summarize(results: AsyncResult[]): { done: number; failed: number; firstError: string; p50: number; p95: number; p99: number } {
  const ok = results.filter((r) => r.ok).map((r) => r.ms).sort((a, b) => a - b);
  const bad = results.filter((r) => !r.ok);
  return { done: ok.length, failed: bad.length, firstError: bad[0]?.body.slice(0, 200) ?? '', p50: pct(ok, 50), p95: pct(ok, 95), p99: pct(ok, 99) };
}
