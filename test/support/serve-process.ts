import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

/**
 * A real `strato serve` child process, for tests that kill a node (SIGKILL) and restart it.
 *
 * @example
 *   const p = await startServeProcess({ dbUrl, dataDir, env: { STRATO_EXTRA_MODULES: plugin } });
 *   p.kill('SIGKILL'); await p.exited;
 */
export interface ServeProcess {
  child: ChildProcess;
  url: string;
  port: number;
  /** Resolves with the exit code or signal once the process is gone. */
  exited: Promise<number | string | null>;
  output(): string;
  /** SIGTERM (graceful), then SIGKILL if it has not exited after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

const ROOT = resolve(import.meta.dirname, '../..');

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

export async function startServeProcess(o: { dbUrl: string; dataDir: string; port?: number; env?: Record<string, string>; startTimeoutMs?: number }): Promise<ServeProcess> {
  const port = o.port ?? (await freePort());
  const child = spawn(process.execPath, [resolve(ROOT, 'bin/strato.js'), 'serve', '--port', String(port), '--host', '127.0.0.1', '--data-dir', o.dataDir, '--db', o.dbUrl], {
    cwd: ROOT,
    env: { ...process.env, STRATO_LOG_LEVEL: process.env.STRATO_TEST_LOG ?? 'warn', ...o.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += String(d)));
  child.stderr!.on('data', (d) => (out += String(d)));
  const exited = new Promise<number | string | null>((r) => child.once('exit', (code, signal) => r(signal ?? code)));
  const up = await Promise.race([
    new Promise<boolean>((r) => {
      const check = () => (out.includes(' is up.') ? r(true) : undefined);
      child.stdout!.on('data', check);
      check();
    }),
    exited.then(() => false),
    new Promise<boolean>((r) => setTimeout(() => r(false), o.startTimeoutMs ?? 30_000)),
  ]);
  if (!up) {
    child.kill('SIGKILL');
    throw new Error(`strato serve did not start:\n${out}`);
  }
  return {
    child,
    port,
    url: `http://127.0.0.1:${port}`,
    exited,
    output: () => out,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(t);
    },
  };
}
