import { insertionPoint } from '../core/flow/index.ts';
import { observerPoint } from '../core/plugin/index.ts';

/** Images (ZStack's `image` header): templates and ISOs kept on backup storages. */

export const IMAGE_MEDIA_TYPES = ['RootVolumeTemplate', 'DataVolumeTemplate', 'ISO'] as const;
export const IMAGE_FORMATS = ['qcow2', 'raw', 'iso'] as const;
export const IMAGE_PLATFORMS = ['Linux', 'Windows', 'Other', 'Paravirtualization', 'WindowsVirtio'] as const;
export const IMAGE_ARCHITECTURES = ['x86_64', 'aarch64', 'mips64el', 'loongarch64'] as const;

export interface ImageView {
  uuid: string;
  name: string;
  state: 'Enabled' | 'Disabled';
  status: 'Downloading' | 'Ready' | 'Deleted';
  size: number | null;
  actualSize: number | null;
  md5Sum: string | null;
  url: string;
  mediaType: string;
  format: string | null;
  platform: string | null;
  architecture: string | null;
}

/** The context of the `image.add` chain. */
export interface AddImageCtx {
  uuid: string;
  name: string;
  description?: string;
  url: string;
  mediaType: string;
  guestOsType?: string;
  architecture?: string;
  system: boolean;
  format?: string;
  platform?: string;
  type: string;
  virtio: boolean;
  backupStorageUuids: string[];
  systemTags?: string[];
  userTags?: string[];
  persisted?: boolean;
  /** Each storage that holds a copy: what rollback deletes. */
  downloaded?: Array<{ backupStorageUuid: string; installPath: string; actualSize: number }>;
  /** Storages whose download failed (their references are dropped when at least one succeeded). */
  failed?: string[];
  facts?: { size: number; actualSize: number; md5sum: string; format?: string };
}

/** Plugins add steps once the image is Ready on its storages, inside the same rollback scope. */
export const AfterImageAdded = insertionPoint<AddImageCtx>('image.add.afterReady');

export interface ImageLifecycle {
  afterAdd?(image: ImageView): void | Promise<void>;
  afterDelete?(image: ImageView): void | Promise<void>;
  afterExpunge?(image: ImageView): void | Promise<void>;
}

export const ImageLifecyclePoint = observerPoint<ImageLifecycle>('image.lifecycle');
