import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { processRuns } from '../process-alive.ts';

/** Whether `pid` is alive and is the QEMU of this VM (its command line names the VM's directory). */
export function isQemuOf(pid: number, vmDir: string): boolean {
  return processRuns(pid, vmDir);
}

/**
 * Spawns QEMU detached (its own process group, stdio to `logFile`), so it outlives this agent: an
 * agent restart or crash never takes VMs down. Returns its PID.
 */
export function spawnQemu(binary: string, args: string[], logFile: string): number {
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(binary, args, { detached: true, stdio: ['ignore', fd, fd] });
    if (!child.pid) throw new Error(`could not start ${binary}`);
    child.on('error', () => undefined);
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** Waits until `pid` is gone (or is no longer this VM's QEMU); false after `timeoutMs`. */
export async function waitGone(pid: number, vmDir: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isQemuOf(pid, vmDir)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return !isQemuOf(pid, vmDir);
}

export function killHard(pid: number, vmDir: string): void {
  if (!isQemuOf(pid, vmDir)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

export function tailOf(file: string, bytes = 2000): string {
  if (!existsSync(file)) return '';
  const text = readFileSync(file, 'utf8');
  return text.slice(-bytes).trim();
}
