import { createHash } from 'node:crypto';
import pino from 'pino';
import { freshTestDatabase, type TestDatabase } from '../../src/core/db/index.ts';
import type { ServiceModule } from '../../src/core/node-context.ts';
import { ManagementNode, type ManagementNodeOptions } from '../../src/node/management-node.ts';

/**
 * Test harness: a real management node on a fresh SQLite or MariaDB database, listening on a free
 * port, plus a raw HTTP client that speaks exactly as ZStack's SDKs do (SHA-512 login, 202 + polling).
 *
 * @example
 *   const t = await startTestNode('sqlite'); const c = await t.login();
 *   const zone = await c.call('POST', '/zones', { params: { name: 'z1' } });
 *   await t.stop();
 */
export interface TestNode {
  node: ManagementNode;
  db: TestDatabase;
  url: string;
  login(account?: string, password?: string): Promise<TestClient>;
  stop(): Promise<void>;
  /** The node's warnings and errors as JSON lines, with `keepWarnings` (for failure messages of slow system tests). */
  warnings: string[];
}

export const sha512 = (s: string) => createHash('sha512').update(s).digest('hex');

export async function startTestNode(kind: 'sqlite' | 'mysql', opts: { modules?: ServiceModule[]; dir?: string; node?: Partial<ManagementNodeOptions>; keepWarnings?: boolean } = {}): Promise<TestNode> {
  const db = await freshTestDatabase(kind, opts.dir ?? '/tmp');
  await db.close(); // the node opens its own connection to the same database
  const warnings: string[] = [];
  const logger = opts.keepWarnings && !process.env.STRATO_TEST_LOG
    ? pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line.trim()) })
    : pino({ level: process.env.STRATO_TEST_LOG ?? 'silent' });
  const node = await ManagementNode.start({ dbUrl: db.url, port: 0, host: '127.0.0.1', logger, modules: opts.modules, ...opts.node });
  return {
    node,
    db,
    url: node.url,
    warnings,
    async login(account = 'admin', password = 'password') {
      const res = await fetch(`${node.url}/zstack/v1/accounts/login`, { method: 'PUT', headers: { 'Content-Type': 'application/json; charset=utf-8' }, body: JSON.stringify({ logInByAccount: { accountName: account, password: sha512(password) } }) });
      const body = (await res.json()) as { inventory?: { uuid: string } };
      if (res.status !== 200 || !body.inventory) throw new Error(`login failed: ${res.status} ${JSON.stringify(body)}`);
      return new TestClient(node.url, body.inventory.uuid);
    },
    async stop() {
      await node.stop();
      await db.drop();
    },
  };
}

export interface RawResponse {
  status: number;
  body: any;
  text: string;
  headers: Headers;
}

/** Raw HTTP as the SDKs send it; `call` follows a 202 to its result like the SDK's polling. */
export class TestClient {
  constructor(readonly url: string, readonly session: string) {}

  async raw(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<RawResponse> {
    const h: Record<string, string> = { Authorization: `OAuth ${this.session}`, 'X-JSON-Schema': 'true', ...headers };
    let payload: string | undefined;
    if (body !== undefined) {
      payload = typeof body === 'string' ? body : JSON.stringify(body);
      h['Content-Type'] ??= 'application/json; charset=utf-8';
    }
    const res = await fetch(`${this.url}/zstack/v1${path}`, { method, headers: h, body: payload });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      /* plain-text transport errors stay text */
    }
    return { status: res.status, body: parsed, text, headers: res.headers };
  }

  /** Polls a job location until it is no longer 202. */
  async poll(location: string, timeoutMs = 20_000): Promise<RawResponse> {
    const started = Date.now();
    for (;;) {
      const res = await fetch(location, { headers: { Authorization: `OAuth ${this.session}` } });
      const text = await res.text();
      const body = text ? JSON.parse(text) : {};
      if (res.status !== 202) return { status: res.status, body, text, headers: res.headers };
      if (Date.now() - started > timeoutMs) throw new Error(`job ${location} still running after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** A call that must succeed: follows 202 polling and returns the final 200 body. */
  async call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<any> {
    const res = await this.send(method, path, body, headers);
    if (res.status !== 200) throw new Error(`${method} ${path} → ${res.status} ${res.text}`);
    return res.body;
  }

  /** Like `call` but returns the final response whatever its status. */
  async send(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<RawResponse> {
    const first = await this.raw(method, path, body, headers);
    if (first.status !== 202) return first;
    return this.poll(first.body.location);
  }
}
