import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OvsSwitch } from './network/ovs.ts';
import { pidFromFile, processRuns } from './process-alive.ts';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));
const state = (pid: number) => /\)\s+(\S)\s/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1];

/**
 * A zombie as the agent meets one: a process whose parent never waits for it (the parent execs into
 * `sleep`), killed. It stays in the process table until its parent exits.
 */
async function zombie(marker: string): Promise<{ pid: number; parent: ReturnType<typeof spawn> }> {
  // bash's `exec -a` puts the marker in the child's command line, as a daemon's own arguments would be.
  const parent = spawn('bash', ['-c', '(exec -a "$0" sleep 300) & echo $!; exec sleep 300', `daemon ${marker}`], { stdio: ['ignore', 'pipe', 'ignore'] });
  const pid = await new Promise<number>((resolve) => parent.stdout!.once('data', (c: Buffer) => resolve(Number(c.toString().trim()))));
  // $! is known at the fork: wait until the child has exec'd into the marked command (bash's own command
  // line holds the marker too, as its $0) and the parent into `sleep` (a bash would still reap its child).
  const execd = (p: number | undefined, argv0: string) => readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith(`${argv0}\0`);
  for (let i = 0; i < 100 && !(execd(pid, `daemon ${marker}`) && execd(parent.pid, 'sleep')); i++) await tick(20);
  expect(execd(parent.pid, 'sleep')).toBe(true);
  expect(processRuns(pid, marker)).toBe(true);
  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 100 && state(pid) !== 'Z'; i++) await tick(20);
  expect(state(pid)).toBe('Z');
  expect(() => process.kill(pid, 0)).not.toThrow(); // what a bare liveness check would believe
  return { pid, parent };
}

describe('processRuns', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  it('is false for a killed daemon its parent has not reaped (a zombie), a reused PID and no PID', async () => {
    const { pid, parent } = await zombie('--marker-a');
    cleanups.push(() => parent.kill('SIGKILL'));
    expect(processRuns(pid, '--marker-a')).toBe(false);
    expect(processRuns(process.pid, '--not-in-our-command-line')).toBe(false);
    expect(processRuns(undefined, 'x')).toBe(false);
    const ownArgv0 = readFileSync('/proc/self/cmdline', 'utf8').split('\0')[0];
    expect(processRuns(process.pid, ownArgv0)).toBe(true);
    expect(processRuns(process.pid)).toBe(true);
  });

  it('tells OVS its daemons are gone when their pid files name zombies (so the agent starts them again)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'strato-ovs-zombie-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const ovs = new OvsSwitch(dataDir);
    mkdirSync(ovs.dir);
    for (const d of ['ovsdb-server', 'ovs-vswitchd'] as const) {
      const pidFile = join(ovs.dir, `${d}.pid`);
      const { pid, parent } = await zombie(`--pidfile=${pidFile}`);
      cleanups.push(() => parent.kill('SIGKILL'));
      writeFileSync(pidFile, `${pid}\n`);
      expect(pidFromFile(pidFile)).toBe(pid);
      expect(ovs.daemonRuns(d)).toBe(false);
    }
  });
});
