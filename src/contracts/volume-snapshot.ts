import { observerPoint, strategyPoint } from '../core/plugin/index.ts';
import type { PrimaryStorageView } from './primary-storage.ts';
import type { VolumeView } from './volume.ts';

/**
 * Volume snapshots (ZStack's `storage/snapshot` header): a tree of snapshots per volume. The
 * volume-snapshot service owns the rows, the trees and the capacity they hold on the primary storage;
 * the bits are made by a `VolumeSnapshotBackendPoint` implementation keyed by primary storage type.
 */

export interface VolumeSnapshotView {
  uuid: string;
  name: string;
  description?: string | null;
  /** 'Hypervisor' (a qcow2 chain) or 'Storage' (the storage's own snapshots). */
  type: string;
  volumeUuid: string;
  treeUuid: string;
  parentUuid: string | null;
  primaryStorageUuid: string;
  primaryStorageInstallPath: string;
  volumeType: string;
  format: string;
  /** The point the volume stands on now: the next snapshot is its child. */
  latest: boolean;
  size: number;
  state: 'Enabled' | 'Disabled';
  status: 'Creating' | 'Ready' | 'Deleting';
  /** Hops from the root of the tree (a root is 0). */
  distance: number;
}

/** One snapshot as a backend sees it. */
export interface SnapshotBits {
  snapshotUuid: string;
  installPath: string;
  size: number;
}

/**
 * One primary storage type's snapshot operations (ZStack's PrimaryStorage snapshot messages and the
 * hypervisor's take-snapshot command). Registered with
 * `extensions.registerStrategy(VolumeSnapshotBackendPoint, '<primary storage type>', impl)`.
 * Every method throws to fail and leaves nothing behind when it does.
 *
 * @example
 *   extensions.registerStrategy(VolumeSnapshotBackendPoint, 'Ceph', cephSnapshots, { by: 'ceph' });
 */
export interface VolumeSnapshotBackend {
  /** Freeze the volume's current content as a snapshot; `parent` is the snapshot the volume stands on, if any. */
  takeSnapshot(ps: PrimaryStorageView, volume: VolumeView, snapshot: { uuid: string; parent: SnapshotBits | null }): Promise<{ installPath: string; size: number; format: string; type: string }>;
  /** Make the volume's content the snapshot's again (its current content is discarded). */
  revertVolume(ps: PrimaryStorageView, volume: VolumeView, snapshot: SnapshotBits): Promise<void>;
  /**
   * Fold `snapshot` into `into` (a child snapshot, or the volume itself when `into.volume`), which
   * becomes based on the snapshot's parent. Returns the size of `into` before and after.
   */
  mergeSnapshot(ps: PrimaryStorageView, snapshot: SnapshotBits, into: { uuid: string; installPath: string; volume?: boolean }): Promise<{ size: number; formerSize: number }>;
  /** Undo `mergeSnapshot`: `into` is based on `snapshot` again with its former size (the data is the same). */
  rebase(ps: PrimaryStorageView, snapshot: SnapshotBits, into: { uuid: string; installPath: string; volume?: boolean; size: number }): Promise<void>;
  /** Delete a snapshot's bits; deleting bits that are not there succeeds. */
  deleteSnapshot(ps: PrimaryStorageView, snapshot: SnapshotBits): Promise<void>;
}

export const VolumeSnapshotBackendPoint = strategyPoint<VolumeSnapshotBackend>('volumeSnapshot.backend');

/**
 * Observers of snapshots; `pre*` hooks veto by throwing. The VM service registers `preRevert` to
 * require the volume's VM to be Stopped (a volume with no VM may always be reverted).
 */
export interface SnapshotLifecycle {
  preCreate?(volume: VolumeView): void | Promise<void>;
  afterCreate?(snapshot: VolumeSnapshotView): void | Promise<void>;
  preRevert?(snapshot: VolumeSnapshotView, volume: VolumeView): void | Promise<void>;
  afterRevert?(snapshot: VolumeSnapshotView, volume: VolumeView): void | Promise<void>;
  preDelete?(snapshot: VolumeSnapshotView): void | Promise<void>;
  afterDelete?(snapshot: VolumeSnapshotView): void | Promise<void>;
}

export const SnapshotLifecyclePoint = observerPoint<SnapshotLifecycle>('volumeSnapshot.lifecycle');

/** Internal messages of the volume-snapshot service; each runs in the volume's queue (`volume-<uuid>`), on the node owning the volume. */
export const VolumeSnapshotMessages = {
  /** `{volumeUuid, force?}`: delete every snapshot and tree of a volume (bits, capacity, rows); sent by the cascade. */
  deleteForVolume: 'volumeSnapshot.DeleteForVolume',
} as const;

export const VOLUME_SNAPSHOT_SERVICE = 'volume-snapshot';
