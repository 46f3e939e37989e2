import { existsSync, mkdirSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { AGENT_TOKEN_HEADER } from '../../core/agent/index.ts';
import { IMAGE_STORE_FILE_PATH } from '../../contracts/image-store-agent.ts';
import { LOCAL_STORAGE_DOWNLOAD_PROGRESS_PATH, LocalStorageAgentPaths } from '../../contracts/local-storage-agent.ts';
import type { CommandRegistry } from '../command-registry.ts';
import type { KeyedQueue } from '../keyed-queue.ts';
import type { VmSupervisor } from '../vm/vm-supervisor.ts';
import { fetchToFile, progressReporter } from './fetch-file.ts';
import { actualSizeOf, createOverlay, createQcow2, diskCapacity, imageInfo, resize } from './qemu-img.ts';
import { topNodeOf } from '../vm/vm-spec.ts';

const absolute = (what: string, p: unknown): string => {
  // normalized too: no `..` or `.` steps that would lead a path out of where the node meant it to be
  if (typeof p !== 'string' || !p.startsWith('/') || resolve(p) !== p.replace(/\/+$/, '')) throw new Error(`${what} must be an absolute, normalized path (got ${String(p)})`);
  return p;
};

/** Refuses to touch a file a running VM has open: QEMU would see its disk change underneath it. */
export function notInUse(vms: VmSupervisor, path: string, what: string): void {
  const user = vms.usingFile(path);
  if (user) throw new Error(`${what}: ${path} is in use by running VM ${user.vm.uuid}; stop the VM first`);
}

interface DownloadCmd {
  backupStorageUuid?: string;
  backupStorageInstallPath?: string;
  primaryStorageInstallPath?: string;
  /** The backup-storage agent's base URL and token (README: what the agent expects). */
  backupStorageUrl?: string;
  backupStorageToken?: string;
}

/**
 * Local primary storage on this host's filesystem (ZStack's LocalStorageKvmBackend): an image cache,
 * volumes as qcow2 files (root volumes as linked clones of the cached image), capacity from the real
 * filesystem. Commands on one file run one at a time.
 */
export function defineLocalStorageCommands(commands: CommandRegistry, vms: VmSupervisor, files: KeyedQueue): void {
  commands.define(LocalStorageAgentPaths.init, (cmd: { path?: string }) => {
    const path = absolute('path', cmd.path);
    mkdirSync(path, { recursive: true });
    return diskCapacity(path);
  });

  commands.define(LocalStorageAgentPaths.createEmptyVolume, (cmd: { installUrl?: string; size?: number }) => {
    const path = absolute('installUrl', cmd.installUrl);
    if (!Number.isFinite(cmd.size) || Number(cmd.size) <= 0) throw new Error(`size must be a positive number of bytes (got ${String(cmd.size)})`);
    return files.run(path, async () => {
      if (existsSync(path)) throw new Error(`${path} already exists`);
      mkdirSync(dirname(path), { recursive: true });
      await createQcow2(path, Number(cmd.size));
      return { actualSize: actualSizeOf(path), size: Number(cmd.size) };
    });
  });

  commands.define(LocalStorageAgentPaths.downloadImage, (cmd: DownloadCmd, ctx) => {
    const dest = absolute('primaryStorageInstallPath', cmd.primaryStorageInstallPath);
    if (!cmd.backupStorageInstallPath) throw new Error('backupStorageInstallPath is missing');
    return files.run(dest, async () => {
      if (!existsSync(dest)) {
        const source = cmd.backupStorageUrl ? `${cmd.backupStorageUrl.replace(/\/$/, '')}${IMAGE_STORE_FILE_PATH}?path=${encodeURIComponent(cmd.backupStorageInstallPath!)}` : cmd.backupStorageInstallPath!;
        const progress = progressReporter(ctx, LOCAL_STORAGE_DOWNLOAD_PROGRESS_PATH, { primaryStorageInstallPath: dest });
        await fetchToFile(source, dest, cmd.backupStorageToken ? { [AGENT_TOKEN_HEADER]: cmd.backupStorageToken } : {}, progress);
      }
      const info = await imageInfo(dest);
      return { size: info.virtualSize, actualSize: actualSizeOf(dest), format: info.format };
    });
  });

  commands.define(LocalStorageAgentPaths.createVolumeFromCache, (cmd: { installUrl?: string; templatePathInCache?: string; size?: number }) => {
    const path = absolute('installUrl', cmd.installUrl);
    const template = absolute('templatePathInCache', cmd.templatePathInCache);
    return files.run(path, async () => {
      if (!existsSync(template)) throw new Error(`image cache ${template} is not on this host`);
      if (existsSync(path)) throw new Error(`${path} already exists`);
      const base = await imageInfo(template);
      mkdirSync(dirname(path), { recursive: true });
      await createOverlay(path, template, base.format, Number(cmd.size) > base.virtualSize ? Number(cmd.size) : undefined);
      return { actualSize: actualSizeOf(path), size: Math.max(base.virtualSize, Number(cmd.size) || 0) };
    });
  });

  commands.define(LocalStorageAgentPaths.resizeVolume, (cmd: { installPath?: string; size?: number }) => {
    const path = absolute('installPath', cmd.installPath);
    const size = Number(cmd.size);
    if (!Number.isFinite(size) || size <= 0) throw new Error(`size must be a positive number of bytes (got ${String(cmd.size)})`);
    return files.run(path, async () => {
      const user = vms.usingFile(path);
      // A running VM's disk grows through QEMU (the guest sees the new size at once).
      if (user) await user.vm.qmp.execute('block_resize', { 'node-name': topNodeOf(user.volume), size });
      else {
        if (!existsSync(path)) throw new Error(`${path} is not on this host`);
        if ((await imageInfo(path)).virtualSize > size) throw new Error(`${path} is larger than ${size} bytes: volumes only grow`);
        await resize(path, size);
      }
      return { size, actualSize: actualSizeOf(path) };
    });
  });

  commands.define(LocalStorageAgentPaths.delete, (cmd: { path?: string }) => {
    const path = absolute('path', cmd.path);
    return files.run(path, () => {
      notInUse(vms, path, 'delete');
      if (existsSync(path)) rmSync(path, { recursive: statSync(path).isDirectory(), force: true });
      // A volume's or cached image's own folder (`vol-<uuid>/<uuid>.qcow2`, `<uuid>/<uuid>.qcow2`) goes with its last file.
      const stem = basename(path).replace(/\.[^.]*$/, '');
      if (stem && basename(dirname(path)).includes(stem)) {
        try {
          rmdirSync(dirname(path));
        } catch {
          /* not empty: keep it */
        }
      }
      return Promise.resolve({});
    });
  });
}
