import type { AgentResponse } from '../../core/agent/index.ts';

/** The local-storage commands a host's agent answers (ZStack's LocalStorageKvmBackend paths). */
export const LocalStorageAgentPaths = {
  init: '/localstorage/init',
  createEmptyVolume: '/localstorage/volume/createempty',
  downloadImage: '/localstorage/imagestore/download',
  createVolumeFromCache: '/localstorage/volume/createvolumefromcache',
  resizeVolume: '/localstorage/volume/resize',
  delete: '/localstorage/delete',
} as const;

/** `/localstorage/init` `{path, hostUuid}` → the disk that holds `path` on the host. */
export interface LocalStorageInitResponse extends AgentResponse {
  totalCapacity: number;
  availableCapacity: number;
}

export interface LocalStorageVolumeResponse extends AgentResponse {
  actualSize?: number;
  size?: number;
}
