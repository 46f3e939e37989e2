import { insertionPoint } from '../core/flow/index.ts';
import { observerPoint, strategyPoint } from '../core/plugin/index.ts';

/**
 * Primary storage (ZStack's `storage/primary` header): where volumes live. The primary-storage
 * service owns the rows, the cluster attachments, the capacity bookkeeping and the image caches;
 * each storage type (local storage, simulator, NFS, Ceph…) is a plugin of `PrimaryStorageTypePoint`.
 */

export interface PrimaryStorageView {
  uuid: string;
  zoneUuid: string;
  name: string;
  description?: string | null;
  url: string;
  type: string;
  state: 'Enabled' | 'Disabled' | 'Maintenance';
  status: 'Connecting' | 'Connected' | 'Disconnected';
  totalCapacity: number;
  availableCapacity: number;
  totalPhysicalCapacity: number;
  availablePhysicalCapacity: number;
  systemUsedCapacity: number;
}

/** What a backend reports: raw sizes in bytes, before over-provisioning. */
export interface PrimaryStorageCapacity {
  totalCapacity: number;
  availableCapacity: number;
  totalPhysicalCapacity: number;
  availablePhysicalCapacity: number;
}

/** A volume as a backend sees it. */
export interface VolumeSpec {
  volumeUuid: string;
  /** Virtual size in bytes. */
  size: number;
  format?: string;
  /** The host the volume must live on (local storage), when the caller knows it. */
  hostUuid?: string;
}

export interface InstantiatedVolume {
  installPath: string;
  /** Bytes the volume occupies now (thin volumes: less than `size`). */
  actualSize: number;
  format: string;
}

/** An image as a backend fetches it into its cache: the backup storage copy it downloads from. */
export interface ImageCacheSource {
  imageUuid: string;
  mediaType: string;
  format: string | null;
  /** Virtual size. */
  size: number;
  actualSize: number;
  backupStorageUuid: string;
  backupStorageInstallPath: string;
}

/**
 * One primary storage type's backend (ZStack's PrimaryStorageFactory + PrimaryStorageBase hooks).
 * Registered with `extensions.registerStrategy(PrimaryStorageTypePoint, '<type>', impl)`; a type with no
 * implementation makes its APIs answer SYS.1013 naming the type. Every method throws to fail and must
 * leave nothing behind when it does.
 */
export interface PrimaryStorageBackend {
  /** A new storage is being added: validate and keep the type's own parameters. Undone by `remove`. */
  add?(ps: PrimaryStorageView, typeParams: Record<string, unknown>): Promise<void>;
  /** Reach the storage (add and reconnect); returns its capacity. */
  connect(ps: PrimaryStorageView): Promise<PrimaryStorageCapacity>;
  /** The capacity as the storage reports it now (after attach/detach, host changes). */
  capacity(ps: PrimaryStorageView): Promise<PrimaryStorageCapacity>;
  /** The storage is being attached to a cluster (local storage: initialise its hosts). */
  attachToCluster?(ps: PrimaryStorageView, clusterUuid: string): Promise<void>;
  /** The storage was detached from a cluster (local storage: forget its hosts). Idempotent. */
  detachFromCluster?(ps: PrimaryStorageView, clusterUuid: string): Promise<void>;
  /** Make an empty volume. */
  createEmptyVolume(ps: PrimaryStorageView, volume: VolumeSpec): Promise<InstantiatedVolume>;
  /**
   * Fetch an image from its backup storage into this storage's cache; returns where the cache copy lives.
   * `hostUuid`: the host the first volume from it will be on, when known (local storage caches per host).
   */
  downloadImageToCache(ps: PrimaryStorageView, image: ImageCacheSource, hostUuid?: string): Promise<{ installUrl: string }>;
  /** Make a volume whose base is a cached image. */
  createVolumeFromCache(ps: PrimaryStorageView, volume: VolumeSpec, cache: { imageUuid: string; installUrl: string }): Promise<InstantiatedVolume>;
  /** Grow a volume to `size` bytes. */
  resizeVolume(ps: PrimaryStorageView, volume: { volumeUuid: string; installPath: string; size: number }): Promise<{ size: number; actualSize: number }>;
  /** Delete a volume's bits; deleting a volume that is not there succeeds. */
  deleteVolume(ps: PrimaryStorageView, volume: { volumeUuid: string; installPath: string }): Promise<void>;
  /** The storage was deleted (or its add rolled back): forget the type's own state. Idempotent. */
  remove?(ps: PrimaryStorageView): Promise<void>;
}

export const PrimaryStorageTypePoint = strategyPoint<PrimaryStorageBackend>('primaryStorage.type');

/** The context of the `primary-storage.add` chain. */
export interface AddPrimaryStorageCtx {
  uuid: string;
  zoneUuid: string;
  name: string;
  description?: string;
  url: string;
  type: string;
  typeParams: Record<string, unknown>;
  systemTags?: string[];
  userTags?: string[];
  persisted?: boolean;
  backendAdded?: boolean;
}

export const AfterPrimaryStorageConnected = insertionPoint<AddPrimaryStorageCtx>('primary-storage.add.afterConnected');

/** Observers of a primary storage's life; `pre*` hooks veto by throwing. */
export interface PrimaryStorageLifecycle {
  afterAdd?(ps: PrimaryStorageView): void | Promise<void>;
  preDelete?(ps: PrimaryStorageView): void | Promise<void>;
  afterDelete?(ps: PrimaryStorageView): void | Promise<void>;
  afterAttachToCluster?(ps: PrimaryStorageView, clusterUuid: string): void | Promise<void>;
  preDetachFromCluster?(ps: PrimaryStorageView, clusterUuid: string): void | Promise<void>;
  afterDetachFromCluster?(ps: PrimaryStorageView, clusterUuid: string): void | Promise<void>;
}

export const PrimaryStorageLifecyclePoint = observerPoint<PrimaryStorageLifecycle>('primary-storage.lifecycle');

/** The body of `PrimaryStorageMessages.add`: what a type's own Add API forwards to the service. */
export interface AddPrimaryStorageBody {
  resourceUuid?: string;
  zoneUuid: string;
  name: string;
  description?: string;
  url: string;
  type: string;
  typeParams?: Record<string, unknown>;
  systemTags?: string[];
  userTags?: string[];
}

/**
 * `primaryStorage.AllocateSpace`: reserve `size` bytes (charged through `mevoco.overProvisioning.primaryStorage`)
 * on `primaryStorageUuid` when given, otherwise on an Enabled, Connected storage attached to
 * `clusterUuid` (or, without a cluster, in `zoneUuid`) that has room, the one with most room first.
 * `requiredTypes` restricts the candidates' types. Fails with PS.1001 when none has room.
 */
export interface AllocateSpaceRequest {
  size: number;
  primaryStorageUuid?: string;
  clusterUuid?: string;
  zoneUuid?: string;
  requiredTypes?: string[];
  /** Storages not to choose (a retry after a failure on one). */
  avoid?: string[];
}

export interface AllocateSpaceReply {
  primaryStorageUuid: string;
  /** What was taken from `availableCapacity` (the size through the over-provisioning ratio). */
  charged: number;
}

/** `primaryStorage.ReleaseSpace`: give back what AllocateSpace took (pass its `charged`). */
export interface ReleaseSpaceRequest {
  primaryStorageUuid: string;
  charged: number;
}

/** `primaryStorage.InstantiateVolume`: make the volume's bits (empty, or from `imageUuid` through the image cache). */
export interface InstantiateVolumeRequest extends VolumeSpec {
  primaryStorageUuid: string;
  imageUuid?: string;
}

/** Internal messages of the primary-storage service; none runs in the storage's queue except `delete` and `syncCapacity`. */
export const PrimaryStorageMessages = {
  add: 'primaryStorage.Add',
  allocateSpace: 'primaryStorage.AllocateSpace',
  releaseSpace: 'primaryStorage.ReleaseSpace',
  instantiateVolume: 'primaryStorage.InstantiateVolume',
  /** `{primaryStorageUuid, volumeUuid, installPath, size}` → `{size, actualSize}`; the growth must be allocated first. */
  resizeVolume: 'primaryStorage.ResizeVolume',
  /** `{primaryStorageUuid, volumeUuid, installPath}`: delete the bits (capacity is released separately). */
  deleteVolume: 'primaryStorage.DeleteVolume',
  /** `{uuid}`: delete one primary storage (sent by the cascade, run in its queue). */
  delete: 'primaryStorage.Delete',
  /** `{uuid}`: ask the backend for its capacity again and apply the change of the totals (local storage hosts). */
  syncCapacity: 'primaryStorage.SyncCapacity',
  /**
   * `{primaryStorageUuid, imageUuid}` → `ImageCacheSource`: where a connected backup storage of the storage's
   * zone has the Ready image (what an image cache is downloaded from; local storage asks it per host).
   */
  imageCacheSource: 'primaryStorage.ImageCacheSource',
} as const;

export const PRIMARY_STORAGE_SERVICE = 'primary-storage';

export const PrimaryStorageErrors = {
  INSUFFICIENT_CAPACITY: { code: 'PS.1001', description: 'No primary storage has enough capacity' },
  NOT_USABLE: { code: 'PS.1002', description: 'The primary storage is not Enabled and Connected' },
} as const;
