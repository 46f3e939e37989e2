import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

const SCRIPT = resolve(import.meta.dirname, '../../scripts/build-tiny-guest.sh');

/**
 * The built-in image (`scripts/build-tiny-guest.sh`), built once per version of the script and cached
 * in `~/.cache/strato/tiny-guest/<script hash>/`. Returns the directory holding `tiny-guest.qcow2`.
 *
 * @example
 *   const image = join(tinyGuest(), 'tiny-guest.qcow2');
 */
export function tinyGuest(): string {
  const hash = createHash('sha256').update(readFileSync(SCRIPT)).digest('hex').slice(0, 16);
  const dir = join(process.env.STRATO_CACHE_DIR ?? join(homedir(), '.cache/strato'), 'tiny-guest', hash);
  if (existsSync(join(dir, 'tiny-guest.qcow2'))) return dir;
  const tmp = `${dir}.build-${process.pid}`;
  mkdirSync(tmp, { recursive: true });
  try {
    execFileSync('sh', [SCRIPT, tmp], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 300_000 });
    try {
      renameSync(tmp, dir);
    } catch {
      // another test process built it first: use theirs
      if (!existsSync(join(dir, 'tiny-guest.qcow2'))) throw new Error(`could not place the tiny guest in ${dir}`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}
