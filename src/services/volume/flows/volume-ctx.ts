import type { AllocateSpaceReply, InstantiatedVolume } from '../../../contracts/primary-storage.ts';

/** The context of `volume.instantiate`: where the volume goes, and what each step made (for rollback). */
export interface InstantiateVolumeCtx {
  uuid: string;
  size: number;
  format?: string;
  primaryStorageUuid?: string;
  clusterUuid?: string;
  hostUuid?: string;
  imageUuid?: string;
  /** Set by allocate-space: what release gives back. */
  allocated?: AllocateSpaceReply;
  /** Set by create-bits once the storage made them. */
  instantiated?: InstantiatedVolume;
}

/** The context of `volume.createData`. */
export interface CreateDataVolumeCtx extends InstantiateVolumeCtx {
  name: string;
  description?: string;
  diskOfferingUuid?: string;
  systemTags?: string[];
  userTags?: string[];
  persisted?: boolean;
}
