import { statfsSync, statSync } from 'node:fs';
import { exec } from '../exec.ts';

export interface ImageInfo {
  format: string;
  virtualSize: number;
  actualSize: number;
  backingFile?: string;
}

/** `qemu-img info` of one file (`-U`: a running VM may hold it; reading its header is safe). */
export async function imageInfo(path: string): Promise<ImageInfo> {
  const j = JSON.parse(await exec('qemu-img', ['info', '-U', '--output=json', path])) as Record<string, unknown>;
  return { format: String(j.format), virtualSize: Number(j['virtual-size']), actualSize: Number(j['actual-size'] ?? statSync(path).blocks * 512), backingFile: j['full-backing-filename'] as string | undefined ?? (j['backing-filename'] as string | undefined) };
}

/** Bytes a file takes on disk (sparse files count their allocated blocks). */
export function actualSizeOf(path: string): number {
  return statSync(path).blocks * 512;
}

export function createQcow2(path: string, size: number): Promise<string> {
  return exec('qemu-img', ['create', '-q', '-f', 'qcow2', path, String(size)]);
}

/** A qcow2 overlay on `backing` (a linked clone); `size` grows it past the backing's when larger. */
export function createOverlay(path: string, backing: string, backingFormat: string, size?: number): Promise<string> {
  return exec('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', backing, '-F', backingFormat, path, ...(size ? [String(size)] : [])]);
}

/**
 * Points `path` at `backing` (null: no backing) keeping what it reads: a safe rebase copies into `path`
 * every cluster where the old and new chains differ.
 */
export function rebase(path: string, backing: string | null, backingFormat = 'qcow2'): Promise<string> {
  return exec('qemu-img', ['rebase', '-q', '-f', 'qcow2', ...(backing ? ['-b', backing, '-F', backingFormat] : ['-b', '']), path]);
}

export function resize(path: string, size: number): Promise<string> {
  return exec('qemu-img', ['resize', '-q', path, String(size)]);
}

/** The disk that holds `path`. */
export function diskCapacity(path: string): { totalCapacity: number; availableCapacity: number } {
  const s = statfsSync(path);
  return { totalCapacity: s.blocks * s.bsize, availableCapacity: s.bavail * s.bsize };
}
