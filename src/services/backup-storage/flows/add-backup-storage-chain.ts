import { AfterBackupStorageConnected, type AddBackupStorageCtx } from '../../../contracts/backup-storage.ts';
import { defineChain } from '../../../core/flow/index.ts';
import type { ExtensionRegistry } from '../../../core/plugin/index.ts';
import { createTagsStep } from '../../../core/tag/index.ts';
import { backendAdd } from './backend-add.ts';
import { connectBackupStorage } from './connect-backup-storage.ts';
import { persistBackupStorage } from './persist-backup-storage.ts';

/** `backup-storage.add`: the row, the backend's own record, the first connection, tags, then plugin steps. */
export function addBackupStorageChain(extensions: ExtensionRegistry) {
  return defineChain<AddBackupStorageCtx>('backup-storage.add', [persistBackupStorage, backendAdd(extensions), connectBackupStorage(extensions), createTagsStep<AddBackupStorageCtx>('BackupStorageVO'), AfterBackupStorageConnected]);
}
