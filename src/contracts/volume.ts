import { observerPoint } from '../core/plugin/index.ts';

/** Volumes (ZStack's `volume` header): root and data disks, kept on primary storages. */

export type VolumeStatus = 'Creating' | 'Ready' | 'NotInstantiated' | 'Deleted' | 'Migrating';
export type VolumeState = 'Enabled' | 'Disabled';
export type VolumeDeletionPolicy = 'Direct' | 'Delay' | 'Never';

export interface VolumeView {
  uuid: string;
  name: string;
  description?: string | null;
  primaryStorageUuid: string | null;
  vmInstanceUuid: string | null;
  diskOfferingUuid: string | null;
  rootImageUuid: string | null;
  installPath: string | null;
  type: 'Root' | 'Data';
  format: string | null;
  size: number;
  actualSize: number | null;
  deviceId: number | null;
  state: VolumeState;
  status: VolumeStatus;
  isShareable: boolean;
}

/** Observers of a volume's life; `pre*` hooks veto by throwing. */
export interface VolumeLifecycle {
  afterCreate?(volume: VolumeView): void | Promise<void>;
  afterInstantiate?(volume: VolumeView): void | Promise<void>;
  preDelete?(volume: VolumeView): void | Promise<void>;
  afterDelete?(volume: VolumeView): void | Promise<void>;
  afterExpunge?(volume: VolumeView): void | Promise<void>;
}

export const VolumeLifecyclePoint = observerPoint<VolumeLifecycle>('volume.lifecycle');

/**
 * `volume.Instantiate` (what attaching a NotInstantiated data volume to a VM will send): allocate space
 * on `primaryStorageUuid`, or on a storage attached to `clusterUuid`, and create the bits; the
 * volume becomes Ready. Replies with the volume's inventory. A Ready volume is answered as it is.
 */
export interface InstantiateVolumeBody {
  uuid: string;
  primaryStorageUuid?: string;
  clusterUuid?: string;
  hostUuid?: string;
}

export const VolumeMessages = {
  instantiate: 'volume.Instantiate',
  /** `{uuid}`: expunge one volume (sent by the cascade when its primary storage goes), run in its queue. */
  expunge: 'volume.Expunge',
  /**
   * `{uuid, installPath, format?}`: undo an instantiate (a failed attach): only while the volume is on no
   * VM and still at `installPath`; its bits and space go, it is NotInstantiated again (with `format`).
   */
  uninstantiate: 'volume.Uninstantiate',
} as const;

export const VOLUME_SERVICE = 'volume';
