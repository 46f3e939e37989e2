import { readFileSync } from 'node:fs';

/**
 * Whether `pid` is a live process (not a zombie) whose command line contains `marker` when one is
 * given (a path only that daemon is given: its VM directory, its pid file).
 *
 * `kill(pid, 0)` alone is not enough for processes the agent started detached: once one dies it stays
 * a zombie until its parent (init, or whatever reaps orphans on that machine, sometimes late or never)
 * collects it, and `kill(pid, 0)` succeeds on a zombie; a PID can also be reused by an unrelated
 * process. The state in `/proc/<pid>/stat` rules out the first, the marker the second.
 */
export function processRuns(pid: number | undefined, marker?: string): boolean {
  if (!pid || pid <= 0) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/\)\s+[ZX]\s/.test(stat)) return false;
    return marker === undefined || readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
  } catch {
    return false;
  }
}

/** The PID in a pid file, or undefined when there is none. */
export function pidFromFile(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
