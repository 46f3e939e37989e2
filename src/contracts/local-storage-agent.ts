import type { AgentResponse } from '../core/agent/index.ts';

/**
 * The local-storage commands a host's agent answers (ZStack's LocalStorageKvmBackend paths): sent by
 * the local-storage plugin, answered by simulated hosts and by `strato agent` (src/agent/storage/).
 */
export const LocalStorageAgentPaths = {
  init: '/localstorage/init',
  createEmptyVolume: '/localstorage/volume/createempty',
  downloadImage: '/localstorage/imagestore/download',
  createVolumeFromCache: '/localstorage/volume/createvolumefromcache',
  resizeVolume: '/localstorage/volume/resize',
  delete: '/localstorage/delete',
  /** Strato's: ZStack takes a local volume's snapshot through the hypervisor (`/vm/volume/takesnapshot`). */
  takeSnapshot: '/localstorage/snapshot/take',
  revertSnapshot: '/localstorage/snapshot/revert',
  /** A snapshot folded into the volume that stands on it. */
  mergeSnapshot: '/localstorage/snapshot/merge',
  /** A snapshot folded into a child snapshot (the child is rebased on the snapshot's parent). */
  offlineMergeSnapshot: '/localstorage/snapshot/offlinemerge',
  /** Strato's: undoes a merge, `destPath` based on `srcPath` again. */
  rebaseSnapshot: '/localstorage/snapshot/rebase',
} as const;

/**
 * The agent→node report of an image-cache download's progress (sendcommand, header `commandpath` =
 * this): `{taskUuid, primaryStorageInstallPath, percent, downloaded, total}`, at most once a second.
 */
export const LOCAL_STORAGE_DOWNLOAD_PROGRESS_PATH = '/localstorage/imagestore/download/progress';

/** `/localstorage/init` `{path, hostUuid}` → the disk that holds `path` on the host. */
export interface LocalStorageInitResponse extends AgentResponse {
  totalCapacity: number;
  availableCapacity: number;
}

export interface LocalStorageVolumeResponse extends AgentResponse {
  actualSize?: number;
  size?: number;
}

export interface LocalStorageSnapshotResponse extends AgentResponse {
  /** The bytes the new or merged file holds on the host's disk. */
  actualSize?: number;
}
