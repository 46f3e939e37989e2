/** The management node under test: a `strato serve` child process with the bench plugin, and what /proc says of it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');

export interface PluginStats {
  t: number;
  agents: number;
  lagMaxMs: number;
  lagP99Ms: number;
  rss: number;
}

export async function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

export function procStat(pid: number): { cpuTicks: number; rssBytes: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
  return { cpuTicks: Number(stat[11]) + Number(stat[12]), rssBytes: rss };
}

/** A running node: its stats lines are kept, the newest last. */
export class NodeProcess {
  readonly stats: PluginStats[] = [];
  #exited = false;

  private constructor(readonly child: ChildProcess, readonly port: number, readonly spawnedAt: number) {}

  get pid(): number {
    return this.child.pid!;
  }

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Spawns the node; resolves once the process exists (not once it answers: restart times are measured from here). */
  static spawn(opts: { port: number; dataDir: string; dbUrl?: string; cpuProfDir?: string }): NodeProcess {
    const args = [
      ...(opts.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir] : []),
      'bin/strato.js', 'serve', '--port', String(opts.port), '--host', '127.0.0.1', '--data-dir', opts.dataDir,
      ...(opts.dbUrl ? ['--db', opts.dbUrl] : []),
    ];
    const spawnedAt = performance.now();
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { ...process.env, STRATO_LOG_LEVEL: 'warn', STRATO_EXTRA_MODULES: resolve(import.meta.dirname, 'bench-plugin.ts') },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const node = new NodeProcess(child, opts.port, spawnedAt);
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith('bench-scale ')) node.stats.push(JSON.parse(line.slice('bench-scale '.length)) as PluginStats);
        else if (line.includes('"level":50') || line.includes('"level":60')) process.stderr.write(`node: ${line.slice(0, 400)}\n`);
      }
    });
    child.once('exit', () => (node.#exited = true));
    return node;
  }

  /** Resolves when `probe` succeeds (polled every 20 ms); the ms since spawn. */
  async waitFor(probe: () => Promise<boolean>, timeoutMs: number): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (this.#exited) throw new Error('the node exited');
      if (await probe().catch(() => false)) return performance.now() - this.spawnedAt;
      if (performance.now() > deadline) throw new Error(`not ready after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** The stats lines from `since` (epoch ms) on. */
  statsSince(since: number): PluginStats[] {
    return this.stats.filter((s) => s.t >= since);
  }

  async stop(): Promise<void> {
    if (this.#exited) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(t);
  }
}
