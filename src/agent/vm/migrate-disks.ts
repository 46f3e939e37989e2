import { existsSync, mkdirSync, rmdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { basename, dirname } from 'node:path';
import { exec } from '../exec.ts';
import { createOverlay, createQcow2 } from '../storage/qemu-img.ts';
import type { QmpClient } from './qmp-client.ts';
import { nodeNameOf, topNodeOf, type VolumeTO } from './vm-spec.ts';

/**
 * Local disks moving with a live migration (libvirt's NBD storage migration, ZStack's local-storage
 * live migration): the destination makes an empty qcow2 at each disk's path and exports it over NBD
 * from its `-incoming` QEMU; the source mirrors each disk into that export (`blockdev-mirror`), and
 * the RAM moves once every mirror is in sync.
 *
 * A disk whose backing file (the image cache) is already at the same path on the destination gets an
 * overlay on it and only its own layer is copied (`sync: top`, ZStack's IncCopy); otherwise the
 * destination's copy is standalone and the whole chain is copied into it (`sync: full`, FullCopy).
 * The node puts the cache there first when it can (from the backup storage); when it cannot (the image
 * is gone from every backup storage), the full copy still moves the VM.
 */
export interface DiskToCopy {
  uuid: string;
  installPath: string;
  virtualSize: number;
  backingFile?: string;
  backingFormat?: string;
}

export interface PreparedDisk {
  uuid: string;
  sync: 'top' | 'full';
}

/** What one file of a disk chain says about itself (`-U`: the running source QEMU holds it). */
async function chainTop(path: string): Promise<{ virtualSize: number; backingFile?: string; backingFormat?: string }> {
  const j = JSON.parse(await exec('qemu-img', ['info', '-U', '--output=json', path])) as Record<string, unknown>;
  const backing = (j['full-backing-filename'] ?? j['backing-filename']) as string | undefined;
  return { virtualSize: Number(j['virtual-size']), backingFile: backing || undefined, backingFormat: (j['backing-filename-format'] as string | undefined) ?? (backing ? 'qcow2' : undefined) };
}

/** Source side: each disk of the VM as the destination must recreate it. */
export async function disksToCopy(volumes: VolumeTO[]): Promise<DiskToCopy[]> {
  const out: DiskToCopy[] = [];
  for (const v of volumes) {
    if (v.format === 'raw') throw new Error(`volume ${v.uuid} is raw: only qcow2 disks can be copied along a migration`);
    out.push({ uuid: v.uuid, installPath: v.installPath, ...(await chainTop(v.installPath)) });
  }
  return out;
}

/**
 * Destination side, before QEMU starts: one qcow2 per disk at its own path. Refuses a path that already
 * exists (shared storage, or a leftover: never overwritten). Pushes each file into `made` before making it
 * (the caller removes them on failure); `fullCopy` never stands a copy on a backing file.
 */
export async function createTargetDisks(disks: DiskToCopy[], made: string[], fullCopy = false): Promise<PreparedDisk[]> {
  for (const d of disks) {
    if (!d.installPath?.startsWith('/') || !d.uuid) throw new Error('every disk to copy needs a uuid and an absolute installPath');
    if (existsSync(d.installPath)) throw new Error(`volume ${d.uuid}: ${d.installPath} already exists on the destination; a disk is copied only to where it is not (shared storage needs no copy)`);
  }
  const prepared: PreparedDisk[] = [];
  for (const d of disks) {
    mkdirSync(dirname(d.installPath), { recursive: true });
    made.push(d.installPath);
    if (!fullCopy && d.backingFile && existsSync(d.backingFile)) {
      await createOverlay(d.installPath, d.backingFile, d.backingFormat ?? 'qcow2', d.virtualSize);
      prepared.push({ uuid: d.uuid, sync: 'top' });
    } else {
      await createQcow2(d.installPath, d.virtualSize);
      prepared.push({ uuid: d.uuid, sync: 'full' });
    }
  }
  return prepared;
}

/** Removes disk files a failed incoming migration made, and their folder (`vol-<uuid>/`) once empty. */
export function removeDiskFiles(paths: string[]): void {
  for (const p of paths) {
    rmSync(p, { force: true });
    const stem = basename(p).replace(/\.[^.]*$/, '');
    if (stem && basename(dirname(p)).includes(stem)) {
      try {
        rmdirSync(dirname(p));
      } catch {
        /* not empty or gone: keep it */
      }
    }
  }
}

/** A TCP port free on `ip` right now (QEMU's NBD server does not say which port it took). */
export function freePort(ip: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, ip, () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Destination side, QEMU started with `-incoming`: an NBD server on `ip` exporting each disk's node, writable. */
export async function exportDisks(qmp: QmpClient, ip: string, disks: DiskToCopy[]): Promise<number> {
  const port = await freePort(ip);
  await qmp.execute('nbd-server-start', { addr: { type: 'inet', data: { host: ip, port: String(port) } } });
  for (const d of disks) await qmp.execute('block-export-add', { type: 'nbd', id: `x${nodeNameOf(d.uuid).slice(1)}`, 'node-name': nodeNameOf(d.uuid), name: nodeNameOf(d.uuid), writable: true });
  return port;
}

export const stopExports = (qmp: QmpClient) => qmp.execute('nbd-server-stop').catch(() => undefined);

/** One mirror job of the source: the disk's top node into the destination's NBD export. */
export interface MirrorJob {
  jobId: string;
  targetNode: string;
}

/**
 * Source side: connects to the destination's exports and starts one `blockdev-mirror` per disk.
 * Pushes each job into `jobs` as it starts, so the caller can cancel what was started if a later one fails.
 */
export async function startMirrors(qmp: QmpClient, volumes: VolumeTO[], prepared: PreparedDisk[], dest: { ip: string; nbdPort: number }, jobs: MirrorJob[]): Promise<void> {
  for (const v of volumes) {
    const sync = prepared.find((p) => p.uuid === v.uuid)?.sync;
    if (!sync) throw new Error(`the destination prepared no copy of volume ${v.uuid}`);
    const node = nodeNameOf(v.uuid);
    const job: MirrorJob = { jobId: `mig-${node}`.slice(0, 31), targetNode: `t${node.slice(1)}` };
    await qmp.execute('blockdev-add', { driver: 'nbd', 'node-name': job.targetNode, server: { type: 'inet', host: dest.ip, port: String(dest.nbdPort) }, export: node });
    try {
      await qmp.execute('blockdev-mirror', { 'job-id': job.jobId, device: topNodeOf(v), target: job.targetNode, sync });
    } catch (e) {
      await qmp.execute('blockdev-del', { 'node-name': job.targetNode }).catch(() => undefined);
      throw e;
    }
    jobs.push(job);
  }
}

interface BlockJobInfo {
  device: string;
  len: number;
  offset: number;
  ready?: boolean;
  status?: string;
}

/** Waits until every mirror says it is in sync (READY), reporting the copied fraction (0..1). A job that ended (an error) fails it. */
export async function waitMirrorsReady(qmp: QmpClient, jobs: MirrorJob[], onFraction: (f: number) => void, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const infos = await qmp.execute<BlockJobInfo[]>('query-block-jobs');
    const mine = jobs.map((j) => infos.find((i) => i.device === j.jobId));
    const gone = jobs.filter((_, i) => !mine[i]);
    if (gone.length) throw new Error(`disk copy ${gone.map((j) => j.jobId).join(', ')} ended before it was in sync (an I/O or network error on the way)`);
    const len = mine.reduce((s, i) => s + (i?.len ?? 0), 0);
    onFraction(len ? mine.reduce((s, i) => s + (i?.offset ?? 0), 0) / len : 1);
    if (mine.every((i) => i?.ready)) return;
    if (Date.now() > deadline) throw new Error(`the disks were not in sync within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * The guest is paused (migration at `pre-switchover`): each in-sync mirror is ended with
 * `block-job-cancel`, which on a READY job copies what is still dirty and leaves the destination a
 * point-in-time copy (BLOCK_JOB_COMPLETED, no pivot). An error on any disk fails the migration.
 */
export async function completeMirrors(qmp: QmpClient, jobs: MirrorJob[], timeoutMs = 120_000): Promise<void> {
  const done = jobs.map((j) => qmp.waitForEvent('BLOCK_JOB_COMPLETED', (e) => e.data?.device === j.jobId, timeoutMs));
  for (const j of jobs) await qmp.execute('block-job-cancel', { device: j.jobId });
  for (const e of await Promise.all(done)) {
    if (e.data?.error) throw new Error(`disk copy ${String(e.data.device)} failed at its end: ${String(e.data.error)}`);
  }
}

/** Source side after a failure or success: mirrors stopped at once, NBD connections dropped. */
export async function dropMirrors(qmp: QmpClient, jobs: MirrorJob[]): Promise<void> {
  for (const j of jobs) await qmp.execute('block-job-cancel', { device: j.jobId, force: true }).catch(() => undefined);
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const infos = await qmp.execute<BlockJobInfo[]>('query-block-jobs').catch(() => []);
    if (!infos.some((i) => jobs.some((j) => j.jobId === i.device))) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const j of jobs) await qmp.execute('blockdev-del', { 'node-name': j.targetNode }).catch(() => undefined);
}
