import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { LocalStorageAgentPaths } from '../../contracts/local-storage-agent.ts';
import type { CommandRegistry } from '../command-registry.ts';
import type { KeyedQueue } from '../keyed-queue.ts';
import type { VmSupervisor } from '../vm/vm-supervisor.ts';
import { notInUse } from './local-storage-commands.ts';
import { actualSizeOf, createOverlay, imageInfo, rebase } from './qemu-img.ts';
import { takeLiveSnapshot } from '../vm/live-snapshot.ts';

const need = (what: string, p: unknown): string => {
  if (typeof p !== 'string' || !p.startsWith('/')) throw new Error(`${what} must be an absolute path (got ${String(p)})`);
  if (!existsSync(p)) throw new Error(`${what} ${p} is not on this host`);
  return p;
};

/**
 * Volume snapshots as external qcow2 chains, the volume keeping its install path (the node's model):
 * taking one turns the volume's current file into the snapshot file and puts a new empty overlay at
 * the volume's path (base ← … ← snapshot ← volume). Revert puts an empty overlay on the snapshot;
 * merges rebase the file that stands on a snapshot onto the snapshot's own backing (a safe rebase
 * copies what differs), after which the snapshot file can be deleted. Taking one of a disk a running
 * VM writes to goes through QMP (live-snapshot.ts); revert and merges need the VM stopped.
 */
export function defineSnapshotCommands(commands: CommandRegistry, vms: VmSupervisor, files: KeyedQueue): void {
  commands.define(LocalStorageAgentPaths.takeSnapshot, (cmd: { volumeInstallPath?: string; installPath?: string }) => {
    const volume = need('volumeInstallPath', cmd.volumeInstallPath);
    const snapshot = cmd.installPath;
    if (typeof snapshot !== 'string' || !snapshot.startsWith('/')) throw new Error('installPath must be an absolute path');
    return files.run(volume, async () => {
      if (existsSync(snapshot)) throw new Error(`snapshot file ${snapshot} already exists`);
      const info = await imageInfo(volume);
      mkdirSync(dirname(snapshot), { recursive: true });
      const user = vms.usingFile(volume);
      if (user) {
        await takeLiveSnapshot(vms, user.vm, user.volume, snapshot, info.format, info.virtualSize);
        return { actualSize: actualSizeOf(snapshot) };
      }
      renameSync(volume, snapshot);
      try {
        // An absolute backing path: the snapshot lives in another folder than the volume.
        await createOverlay(volume, snapshot, info.format, info.virtualSize);
      } catch (e) {
        renameSync(snapshot, volume);
        throw e;
      }
      return { actualSize: actualSizeOf(snapshot) };
    });
  });

  commands.define(LocalStorageAgentPaths.revertSnapshot, (cmd: { snapshotInstallPath?: string; volumeInstallPath?: string }) => {
    const snapshot = need('snapshotInstallPath', cmd.snapshotInstallPath);
    const volume = need('volumeInstallPath', cmd.volumeInstallPath);
    return files.run(volume, async () => {
      notInUse(vms, volume, 'revert');
      const info = await imageInfo(volume);
      const tmp = `${volume}.revert-${process.pid}`;
      rmSync(tmp, { force: true });
      await createOverlay(tmp, snapshot, 'qcow2', info.virtualSize);
      renameSync(tmp, volume); // what the volume held since the snapshot is dropped, as asked
      return { actualSize: actualSizeOf(volume) };
    });
  });

  /** `dest` stands on `src`: make it stand on `src`'s backing instead, keeping its content. */
  const foldInto = (src: string, dest: string, what: string) =>
    files.run(dest, async () => {
      notInUse(vms, dest, what);
      const destInfo = await imageInfo(dest);
      if (destInfo.backingFile !== src) throw new Error(`${dest} does not stand on ${src} (its backing is ${String(destInfo.backingFile)})`);
      const srcInfo = await imageInfo(src);
      await rebase(dest, srcInfo.backingFile ?? null, srcInfo.backingFile ? (await imageInfo(srcInfo.backingFile)).format : undefined);
      return { actualSize: actualSizeOf(dest) };
    });

  commands.define(LocalStorageAgentPaths.mergeSnapshot, (cmd: { srcPath?: string; destPath?: string }) => foldInto(need('srcPath', cmd.srcPath), need('destPath', cmd.destPath), 'merge snapshot'));
  commands.define(LocalStorageAgentPaths.offlineMergeSnapshot, (cmd: { srcPath?: string; destPath?: string }) => foldInto(need('srcPath', cmd.srcPath), need('destPath', cmd.destPath), 'merge snapshot'));

  /** Undoes a merge: `destPath` stands on `backingPath` again, reading the same data. */
  commands.define(LocalStorageAgentPaths.rebaseSnapshot, (cmd: { backingPath?: string; destPath?: string }) => {
    const backing = need('backingPath', cmd.backingPath);
    const dest = need('destPath', cmd.destPath);
    return files.run(dest, async () => {
      notInUse(vms, dest, 'rebase');
      await rebase(dest, backing, (await imageInfo(backing)).format);
      return { actualSize: actualSizeOf(dest) };
    });
  });
}
