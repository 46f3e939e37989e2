import { PRIMARY_STORAGE_SERVICE } from '../../contracts/primary-storage.ts';
import { serviceFromHandlers } from '../../core/bus/index.ts';
import type { ServiceModule } from '../../core/node-context.ts';
import { primaryStorageApis } from './apis.ts';
import { primaryStorageCascadeEntry, primaryStorageClusterRefCascadeEntry } from './cascade.ts';
import { deleteHandler } from './delete-handler.ts';
import { addPrimaryStorageChain } from './flows/add-primary-storage-chain.ts';
import { primaryStorageHandlers } from './handlers.ts';
import { ImageCacheInventory, primaryStorageMigration, PrimaryStorageClusterRefInventory, PrimaryStorageInventory } from './schema.ts';
import { spaceHandlers } from './space-handlers.ts';

/** Primary storage: where volumes live. Types (local storage, simulator…) are plugins of `PrimaryStorageTypePoint`. */
export const primaryStorageService: ServiceModule = {
  id: 'primary-storage',
  migrations: [primaryStorageMigration],
  inventories: [PrimaryStorageInventory, PrimaryStorageClusterRefInventory, ImageCacheInventory],
  apis: primaryStorageApis,
  setup(ctx) {
    const ratio = ctx.config.define({ category: 'mevoco', name: 'overProvisioning.primaryStorage', type: 'number', defaultValue: 1, min: 0.01, description: 'the over provisioning ratio for primary storage: a reservation takes its size divided by this' });
    const chain = addPrimaryStorageChain(ctx.extensions);
    ctx.flows.registerChain(chain);
    ctx.cascade.register(primaryStorageCascadeEntry(ctx));
    ctx.cascade.register(primaryStorageClusterRefCascadeEntry(ctx));
    ctx.bus.registerService(serviceFromHandlers(PRIMARY_STORAGE_SERVICE, { ...primaryStorageHandlers(ctx, chain), ...spaceHandlers(ctx, ratio), ...deleteHandler(ctx) }));
  },
};
