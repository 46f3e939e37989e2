import { AfterImageAdded, type AddImageCtx } from '../../../contracts/image.ts';
import { defineChain } from '../../../core/flow/index.ts';
import { createTagsStep } from '../../../core/tag/index.ts';
import { checkBackupStorages } from './check-backup-storages.ts';
import { downloadImage } from './download-image.ts';
import { markImageReady } from './mark-image-ready.ts';
import { persistImage } from './persist-image.ts';

/** `image.add`: check the storages, record the image as Downloading, download, mark Ready, tags, plugin steps. */
export const addImageChain = defineChain<AddImageCtx>('image.add', [checkBackupStorages, persistImage, downloadImage, markImageReady, createTagsStep<AddImageCtx>('ImageVO'), AfterImageAdded]);
