import { AfterPrimaryStorageConnected, type AddPrimaryStorageCtx } from '../../../contracts/primary-storage.ts';
import { defineChain } from '../../../core/flow/index.ts';
import type { ExtensionRegistry } from '../../../core/plugin/index.ts';
import { createTagsStep } from '../../../core/tag/index.ts';
import { backendAdd } from './backend-add.ts';
import { connectPrimaryStorage } from './connect-primary-storage.ts';
import { persistPrimaryStorage } from './persist-primary-storage.ts';

/** `primary-storage.add`: the row, the backend's own record, the first connection, tags, then plugin steps. */
export function addPrimaryStorageChain(extensions: ExtensionRegistry) {
  return defineChain<AddPrimaryStorageCtx>('primary-storage.add', [persistPrimaryStorage, backendAdd(extensions), connectPrimaryStorage(extensions), createTagsStep<AddPrimaryStorageCtx>('PrimaryStorageVO'), AfterPrimaryStorageConnected]);
}
