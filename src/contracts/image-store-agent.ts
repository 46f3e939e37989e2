import type { AgentResponse } from '../core/agent/index.ts';

/**
 * What an agent on an image-store backup-storage host answers (the image-store backend sends these;
 * `strato agent` answers them in src/agent/imagestore/). Images live under the storage's directory
 * (`url` of AddImageStoreBackupStorage) as `<url>/images/<imageUuid>/<imageUuid>.<format>`.
 */
export const ImageStoreAgentPaths = {
  /** `{url}` → makes the directory; the disk that holds it (`ImageStoreCapacityResponse`). */
  connect: '/imagestore/connect',
  /** `{url}` → `ImageStoreCapacityResponse`. */
  capacity: '/imagestore/capacity',
  /**
   * `{url, imageUuid, sourceUrl, checksum?}` → `ImageStoreDownloadResponse`. sourceUrl is http(s)://
   * or file:///abs/path; `checksum` (md5 or sha256 hex) is verified when given.
   */
  download: '/imagestore/download',
  /** `{installPath}` → removes the image file (and its folder). */
  delete: '/imagestore/delete',
} as const;

/**
 * Hosts fetch images from a backup-storage agent with `GET <agent url>/imagestore/file?path=<installPath>`
 * and the agent token header; the answer is the file's bytes.
 */
export const IMAGE_STORE_FILE_PATH = '/imagestore/file';

/**
 * The agent→node report of a download's progress (`POST /zstack/asyncrest/sendcommand`, header
 * `commandpath` = this): `{taskUuid, imageUuid, percent, downloaded, total}`, `taskUuid` being the
 * download command's. Sent to the node the command came from, at most once a second.
 */
export const IMAGE_STORE_PROGRESS_PATH = '/imagestore/download/progress';

export interface ImageStoreCapacityResponse extends AgentResponse {
  totalCapacity: number;
  availableCapacity: number;
}

export interface ImageStoreDownloadResponse extends AgentResponse {
  installPath: string;
  /** Virtual size (bytes) from `qemu-img info`. */
  size: number;
  /** Bytes the file takes on disk. */
  actualSize: number;
  /** `qcow2`, `raw`, … as `qemu-img info` says. */
  format: string;
  md5sum: string;
  sha256sum: string;
}
