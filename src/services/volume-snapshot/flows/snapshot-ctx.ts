import type { AllocateSpaceReply, PrimaryStorageView } from '../../../contracts/primary-storage.ts';
import type { SnapshotBits, VolumeSnapshotBackend, VolumeSnapshotView } from '../../../contracts/volume-snapshot.ts';
import type { VolumeView } from '../../../contracts/volume.ts';
import type { ExtensionRegistry } from '../../../core/plugin/index.ts';
import { VolumeSnapshotBackendPoint } from '../../../contracts/volume-snapshot.ts';

/** A snapshot row as the flows carry it: its view plus what it holds of the storage. */
export type SnapshotRow = VolumeSnapshotView & { charged: number };

/** The context of `volume-snapshot.create`. */
export interface CreateSnapshotCtx {
  uuid: string;
  name: string;
  description?: string;
  volume: VolumeView;
  ps: PrimaryStorageView;
  /** The snapshot the volume stands on (the new one's parent), if any. */
  parent: (SnapshotBits & { distance: number; treeUuid: string }) | null;
  /** The volume's current tree, or a new one's uuid when `newTree`. */
  treeUuid: string;
  newTree: boolean;
  systemTags?: string[];
  userTags?: string[];
  allocated?: AllocateSpaceReply;
  taken?: { installPath: string; size: number; format: string; type: string };
}

/** One receiver of a deleted snapshot's data. */
export interface MergeTarget {
  uuid: string;
  installPath: string;
  volume?: boolean;
  /** Set by the merge: what `into` was before (what rebasing back restores) and after. */
  formerSize?: number;
  newSize?: number;
}

/** The context of `volume-snapshot.delete`. */
export interface DeleteSnapshotCtx {
  snapshot: SnapshotRow;
  ps: PrimaryStorageView;
  /** Its children, then the volume when the volume stands on it. */
  targets: MergeTarget[];
  /** Every descendant (their distance shrinks by one). */
  descendants: string[];
  /** Space taken for children beyond the first (the first inherits the snapshot's own). */
  extra: AllocateSpaceReply[];
  /** How many targets were merged (rollback rebases them back). */
  merged: number;
  /** The tree's rows before the commit (journaled first): what the commit's rollback puts back. */
  saved?: { snapshots: Record<string, unknown>[]; tree: Record<string, unknown> | undefined };
  /** Set (journaled) before the bits are deleted: past this point the deletion is finished, never undone. */
  deletingBits?: boolean;
}

/** The context of `volume-snapshot.revert`. */
export interface RevertSnapshotCtx {
  snapshot: SnapshotRow;
  volume: VolumeView;
  ps: PrimaryStorageView;
  /** The volume's latest snapshot and current tree before the commit (journaled first): what its rollback restores. */
  saved?: { latest: string[]; current: string[] };
  /** Set (journaled) before the storage rewrites the volume: past this point the revert is finished, never undone. */
  reverting?: boolean;
}

export const bitsOf = (s: { uuid: string; primaryStorageInstallPath: string; size: number }): SnapshotBits => ({ snapshotUuid: s.uuid, installPath: s.primaryStorageInstallPath, size: Number(s.size) });

export function backendFor(extensions: ExtensionRegistry, ps: PrimaryStorageView): VolumeSnapshotBackend {
  return extensions.strategy(VolumeSnapshotBackendPoint, ps.type);
}
