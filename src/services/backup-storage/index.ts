import { serviceFromHandlers } from '../../core/bus/index.ts';
import type { ServiceModule } from '../../core/node-context.ts';
import { backupStorageApis } from './apis.ts';
import { backupStorageCascadeEntry, backupStorageZoneRefCascadeEntry } from './cascade.ts';
import { addBackupStorageChain } from './flows/add-backup-storage-chain.ts';
import { backupStorageHandlers } from './handlers.ts';
import { BackupStorageInventory, backupStorageMigration, BackupStorageZoneRefInventory } from './schema.ts';

/** Backup storage: where images live. Types (image store, simulator…) are plugins of `BackupStorageTypePoint`. */
export const backupStorageService: ServiceModule = {
  id: 'backup-storage',
  migrations: [backupStorageMigration],
  inventories: [BackupStorageInventory, BackupStorageZoneRefInventory],
  apis: backupStorageApis,
  setup(ctx) {
    const chain = addBackupStorageChain(ctx.extensions);
    ctx.flows.registerChain(chain);
    ctx.cascade.register(backupStorageCascadeEntry(ctx));
    ctx.cascade.register(backupStorageZoneRefCascadeEntry(ctx));
    ctx.bus.registerService(serviceFromHandlers('backup-storage', backupStorageHandlers(ctx, chain)));
  },
};
