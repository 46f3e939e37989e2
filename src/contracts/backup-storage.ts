import { insertionPoint } from '../core/flow/index.ts';
import { observerPoint, strategyPoint } from '../core/plugin/index.ts';

/**
 * Backup storage (ZStack's `storage/backup` header): where images live. The backup-storage service
 * owns the rows, the zone attachments and the capacity bookkeeping; each storage type (image store,
 * simulator, …) is a plugin implementing `BackupStorageTypePoint` under its type name.
 */

export interface BackupStorageView {
  uuid: string;
  name: string;
  description?: string | null;
  url: string;
  type: string;
  state: 'Enabled' | 'Disabled';
  status: 'Connecting' | 'Connected' | 'Disconnected';
  totalCapacity: number;
  availableCapacity: number;
}

export interface BackupStorageCapacity {
  totalCapacity: number;
  availableCapacity: number;
}

export interface DownloadImageRequest {
  imageUuid: string;
  url: string;
  /** The format the API gave, if any; the backend may detect it otherwise. */
  format?: string;
  mediaType: string;
  /** md5 or sha256 (hex) the downloaded bytes must have (AddImage's `checksum::` tag); a mismatch fails the download and keeps nothing. */
  checksum?: string;
}

export interface DownloadedImage {
  /** Where the backend keeps the image; given back to `deleteImage`. */
  installPath: string;
  /** Virtual size in bytes (what a volume made from it needs). */
  size: number;
  /** Bytes the image occupies on the backup storage. */
  actualSize: number;
  md5sum: string;
  /** The format the backend found, when it can tell (qcow2 header, ISO 9660 signature). */
  format?: string;
}

/**
 * One backup storage type's backend (ZStack's BackupStorageFactory + BackupStorageBase hooks).
 * Registered with `extensions.registerStrategy(BackupStorageTypePoint, '<type>', impl)`; a type with no
 * implementation makes its APIs answer SYS.1013 naming the type.
 */
export interface BackupStorageBackend {
  /** A new storage of this type is being added: validate and keep the type's own parameters. Undone by `remove`. */
  add?(bs: BackupStorageView, typeParams: Record<string, unknown>): Promise<void>;
  /** Reach the storage (add and reconnect); returns its capacity. Throw when it cannot be reached. */
  connect(bs: BackupStorageView): Promise<BackupStorageCapacity>;
  /** The storage's capacity as it reports it now. */
  capacity(bs: BackupStorageView): Promise<BackupStorageCapacity>;
  /** Fetch the image from its URL onto the storage; throw on failure (nothing may be left behind). */
  downloadImage(bs: BackupStorageView, req: DownloadImageRequest, onProgress?: (percent: number) => void): Promise<DownloadedImage>;
  /** Remove one image; removing an image that is not there succeeds. */
  deleteImage(bs: BackupStorageView, image: { imageUuid: string; installPath: string }): Promise<void>;
  /** The storage was deleted (or its add rolled back): forget the type's own state. Idempotent. */
  remove?(bs: BackupStorageView): Promise<void>;
  /**
   * Where hosts fetch this storage's images from and the token to show (the image store's agent).
   * Types without one leave it out: hosts then read the install path as it is.
   */
  downloadSource?(bs: BackupStorageView): Promise<ImageDownloadSource>;
}

export interface ImageDownloadSource {
  /** The base URL of the agent serving the images (`GET <url>/imagestore/file?path=<installPath>`). */
  url: string;
  token: string;
}

export const BackupStorageTypePoint = strategyPoint<BackupStorageBackend>('backupStorage.type');

/** The context of the `backup-storage.add` chain. */
export interface AddBackupStorageCtx {
  uuid: string;
  name: string;
  description?: string;
  url: string;
  type: string;
  typeParams: Record<string, unknown>;
  systemTags?: string[];
  userTags?: string[];
  persisted?: boolean;
  /** Set once the backend's `add` ran: its rollback calls `remove`. */
  backendAdded?: boolean;
}

export const AfterBackupStorageConnected = insertionPoint<AddBackupStorageCtx>('backup-storage.add.afterConnected');

/** Observers of a backup storage's life; `pre*` hooks veto by throwing. */
export interface BackupStorageLifecycle {
  afterAdd?(bs: BackupStorageView): void | Promise<void>;
  preDelete?(bs: BackupStorageView): void | Promise<void>;
  afterDelete?(bs: BackupStorageView): void | Promise<void>;
  afterAttachToZone?(bs: BackupStorageView, zoneUuid: string): void | Promise<void>;
  preDetachFromZone?(bs: BackupStorageView, zoneUuid: string): void | Promise<void>;
  afterDetachFromZone?(bs: BackupStorageView, zoneUuid: string): void | Promise<void>;
}

export const BackupStorageLifecyclePoint = observerPoint<BackupStorageLifecycle>('backup-storage.lifecycle');

/** The body of `BackupStorageMessages.add`: what a type's own Add API forwards to the service. */
export interface AddBackupStorageBody {
  resourceUuid?: string;
  name: string;
  description?: string;
  url: string;
  type: string;
  /** Type-specific parameters (hostname, sshPort, capacities…) handed to the backend's `add`. */
  typeParams?: Record<string, unknown>;
  systemTags?: string[];
  userTags?: string[];
}

/** Internal messages of the backup-storage service; all route by the backup storage's uuid. */
export const BackupStorageMessages = {
  /** Add a backup storage of `type` (body: AddBackupStorageBody); replies with its inventory. */
  add: 'backupStorage.Add',
  /** Download an image (body: `{ backupStorageUuid } & DownloadImageRequest`); replies with a DownloadedImage. */
  downloadImage: 'backupStorage.DownloadImage',
  /** Delete an image (body: `{ backupStorageUuid, imageUuid, installPath, actualSize }`); replies `{}`. */
  deleteImage: 'backupStorage.DeleteImage',
  /** Where hosts fetch images from (body: `{ backupStorageUuid }`); replies an ImageDownloadSource, or `{}` when the type has none. */
  downloadSource: 'backupStorage.DownloadSource',
} as const;

export const BACKUP_STORAGE_SERVICE = 'backup-storage';
