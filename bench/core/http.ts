/**
 * REST read throughput: `GET /zstack/v1/zones/{uuid}` on a real `strato serve` child process, beside
 * a Fastify hello-world child process measured the same way in the same run (autocannon, same
 * connections and duration), so the ratio says what Strato's layers cost on this machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';

const ROOT = resolve(import.meta.dirname, '../..');

export interface HttpFigures {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
}

function startChild(args: string[], readyText: string): Promise<ChildProcess> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, STRATO_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes(readyText)) res(child);
    });
    child.on('exit', (code) => rej(new Error(`${args.join(' ')} exited with ${code}: ${out}`)));
  });
}

async function load(url: string, headers: Record<string, string>, seconds: number, connections: number): Promise<HttpFigures> {
  const r = await autocannon({ url, headers, duration: seconds, connections, pipelining: 1 });
  return { requestsPerSecond: r.requests.average, p50Ms: r.latency.p50, p99Ms: r.latency.p99, errors: r.errors + r.non2xx };
}

export async function benchHelloWorld(seconds: number, connections: number): Promise<HttpFigures> {
  const port = await freePort();
  const child = await startChild(['--import', 'tsx/esm', 'bench/core/hello-server.ts', String(port)], 'ready');
  try {
    await load(`http://127.0.0.1:${port}/hello`, {}, 2, connections); // warm-up
    return await load(`http://127.0.0.1:${port}/hello`, {}, seconds, connections);
  } finally {
    child.kill('SIGKILL');
  }
}

export async function benchZoneRead(db: 'sqlite' | string, seconds: number, connections: number): Promise<HttpFigures> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'strato-bench-node-'));
  const dbArgs = db === 'sqlite' ? [] : ['--db', db];
  const child = await startChild(['bin/strato.js', 'serve', '--port', String(port), '--host', '127.0.0.1', '--data-dir', dir, ...dbArgs], 'is up');
  try {
    const base = `http://127.0.0.1:${port}/zstack/v1`;
    const login = await fetch(`${base}/accounts/login`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ logInByAccount: { accountName: 'admin', password: createHash('sha512').update('password').digest('hex') } }) });
    const session = ((await login.json()) as { inventory: { uuid: string } }).inventory.uuid;
    const auth = { Authorization: `OAuth ${session}` };
    // A realistic table: 1,000 zones; the one read is somewhere in the middle.
    let target = '';
    for (let i = 0; i < 1000; i++) {
      const res = await fetch(`${base}/zones`, { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ params: { name: `zone-${i}` } }) });
      const { location } = (await res.json()) as { location: string };
      for (;;) {
        const poll = await fetch(location);
        if (poll.status === 200) {
          if (i === 500) target = ((await poll.json()) as { inventory: { uuid: string } }).inventory.uuid;
          else await poll.arrayBuffer();
          break;
        }
        await poll.arrayBuffer();
      }
    }
    const url = `${base}/zones/${target}`;
    const check = await fetch(url, { headers: auth });
    if (check.status !== 200) throw new Error(`GET zone answered ${check.status}`);
    await load(url, auth, 2, connections); // warm-up
    return await load(url, auth, seconds, connections);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}
