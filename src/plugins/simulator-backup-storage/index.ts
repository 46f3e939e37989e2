import { BACKUP_STORAGE_SERVICE, BackupStorageMessages, BackupStorageTypePoint, type AddBackupStorageBody } from '../../contracts/backup-storage.ts';
import type { ApiParams } from '../../core/api/define-api.ts';
import { serviceFromHandlers, type Message } from '../../core/bus/index.ts';
import type { ServiceModule } from '../../core/node-context.ts';
import { simulatorBackupStorageApis, type AddSimulatorBackupStorage } from './apis.ts';
import { simulatorBackupStorageBackend } from './backend.ts';
import { simulatorBackupStorageMigration } from './schema.ts';

export { clearBackupStorageFaults, injectBackupStorageFault } from './faults.ts';

export const SIMULATOR_BACKUP_STORAGE_TYPE = 'SimulatorBackupStorage';

/** 1 TiB, ZStack's simulator default when the API gives no capacity. */
const DEFAULT_CAPACITY = 1024 ** 4;

/**
 * The simulator's backup storage type: `AddSimulatorBackupStorage` (ZStack's `POST /backup-storage/simulators`)
 * forwards to the backup-storage service, which drives this backend through `BackupStorageTypePoint`.
 */
export const simulatorBackupStoragePlugin: ServiceModule = {
  id: 'simulator-backup-storage',
  migrations: [simulatorBackupStorageMigration],
  apis: simulatorBackupStorageApis,
  setup(ctx) {
    ctx.extensions.registerStrategy(BackupStorageTypePoint, SIMULATOR_BACKUP_STORAGE_TYPE, simulatorBackupStorageBackend(ctx.db), { by: 'simulator-backup-storage' });
    ctx.bus.registerService(
      serviceFromHandlers('simulator-backup-storage', {
        async AddSimulatorBackupStorage(msg: Message<ApiParams<typeof AddSimulatorBackupStorage>>) {
          const p = msg.body;
          const totalCapacity = p.totalCapacity ?? DEFAULT_CAPACITY;
          const body: AddBackupStorageBody = {
            resourceUuid: p.resourceUuid, name: p.name, description: p.description, url: p.url, type: SIMULATOR_BACKUP_STORAGE_TYPE,
            typeParams: { totalCapacity, availableCapacity: p.availableCapacity ?? totalCapacity }, systemTags: p.systemTags, userTags: p.userTags,
          };
          return ctx.bus.call(BACKUP_STORAGE_SERVICE, BackupStorageMessages.add, body, { resourceUuid: p.resourceUuid });
        },
      }),
    );
  },
};
