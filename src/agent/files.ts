import { renameSync, writeFileSync } from 'node:fs';

/** Write through a temporary file and rename, so a crash never leaves a half-written state file. */
export function writeFileAtomic(path: string, data: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}
