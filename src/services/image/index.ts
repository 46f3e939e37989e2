import { serviceFromHandlers } from '../../core/bus/index.ts';
import type { ServiceModule } from '../../core/node-context.ts';
import { imageApis } from './apis.ts';
import { imageRefCascadeEntry } from './cascade.ts';
import { addImageChain } from './flows/add-image-chain.ts';
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
    ctx.cascade.register(imageRefCascadeEntry(ctx));
    ctx.bus.registerService(serviceFromHandlers('image', imageHandlers(ctx)));
  },
};
