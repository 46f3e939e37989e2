import { serviceFromHandlers } from '../../core/bus/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { ServiceModule } from '../../core/node-context.ts';
import { imageApis } from './apis.ts';
import { imageRefCascadeEntry } from './cascade.ts';
import { addImageChain } from './flows/add-image-chain.ts';
import { IMAGE_CHECKSUM_TAG } from './flows/download-image.ts';
import { imageHandlers } from './handlers.ts';
import { ImageBackupStorageRefInventory, ImageInventory, imageMigration } from './schema.ts';

/** Images: templates and ISOs downloaded onto backup storages; delete is recoverable until expunge. */
export const imageService: ServiceModule = {
  id: 'image',
  migrations: [imageMigration],
  inventories: [ImageInventory, ImageBackupStorageRefInventory],
  apis: imageApis,
  setup(ctx) {
    ctx.flows.registerChain(addImageChain);
    // The image's md5 or sha256 (hex), checked by the backup storage on download: a mismatch fails AddImage.
    ctx.systemTags.define({ pattern: IMAGE_CHECKSUM_TAG, resourceType: 'ImageVO', validate: ({ checksum }) => {
      if (!/^([0-9a-fA-F]{32}|[0-9a-fA-F]{64})$/.test(checksum)) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `checksum::${checksum} is neither an md5 (32 hex digits) nor a sha256 (64 hex digits)`);
    } });
    ctx.cascade.register(imageRefCascadeEntry(ctx));
    ctx.bus.registerService(serviceFromHandlers('image', imageHandlers(ctx)));
  },
};
