import { PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages, PrimaryStorageTypePoint, type AddPrimaryStorageBody } from '../../contracts/primary-storage.ts';
import type { ApiParams } from '../../core/api/define-api.ts';
import { serviceFromHandlers, type Message } from '../../core/bus/index.ts';
import type { ServiceModule } from '../../core/node-context.ts';
import { simulatorFleetOf } from '../simulator/index.ts';
import { simulatorPrimaryStorageApis, type AddSimulatorPrimaryStorage } from './apis.ts';
import { simulatorPrimaryStorageBackend } from './backend.ts';
import { defineLocalStorageCommands } from './local-storage-commands.ts';
import { defineLocalStorageSnapshotCommands } from './local-storage-snapshot-commands.ts';
import { simulatorPrimaryStorageMigration } from './schema.ts';

export { clearPrimaryStorageFaults, injectPrimaryStorageFault } from './faults.ts';
export { clearSimulatedHostDisks, DEFAULT_SIMULATED_HOST_DISK, simulateHostDisk } from './local-storage-commands.ts';
export { simulatedSnapshotFiles } from './local-storage-snapshot-commands.ts';

export const SIMULATOR_PRIMARY_STORAGE_TYPE = 'SimulatorPrimaryStorage';

/** 1 TiB when the API gives no capacity. */
const DEFAULT_CAPACITY = 1024 ** 4;

/**
 * The simulator's primary storage: the `SimulatorPrimaryStorage` type (`AddSimulatorPrimaryStorage`,
 * ZStack's `POST /primary-storage/simulators`), and the simulated hosts' answers to local storage's
 * agent commands, so that local storage runs on simulated hosts.
 */
export const simulatorPrimaryStoragePlugin: ServiceModule = {
  id: 'simulator-primary-storage',
  dependsOn: ['simulator'],
  migrations: [simulatorPrimaryStorageMigration],
  apis: simulatorPrimaryStorageApis,
  setup(ctx) {
    ctx.extensions.registerStrategy(PrimaryStorageTypePoint, SIMULATOR_PRIMARY_STORAGE_TYPE, simulatorPrimaryStorageBackend(ctx.db), { by: 'simulator-primary-storage' });
    defineLocalStorageCommands(simulatorFleetOf(ctx));
    defineLocalStorageSnapshotCommands(simulatorFleetOf(ctx));
    ctx.bus.registerService(
      serviceFromHandlers('simulator-primary-storage', {
        async AddSimulatorPrimaryStorage(msg: Message<ApiParams<typeof AddSimulatorPrimaryStorage>>) {
          const p = msg.body;
          const totalCapacity = p.totalCapacity ?? DEFAULT_CAPACITY;
          const availableCapacity = p.availableCapacity ?? totalCapacity;
          const body: AddPrimaryStorageBody = {
            resourceUuid: p.resourceUuid, zoneUuid: p.zoneUuid, name: p.name, description: p.description, url: p.url, type: SIMULATOR_PRIMARY_STORAGE_TYPE,
            typeParams: { totalCapacity, availableCapacity, totalPhysicalCapacity: p.totalPhysicalCapacity ?? totalCapacity, availablePhysicalCapacity: p.availablePhysicalCapacity ?? availableCapacity },
            systemTags: p.systemTags, userTags: p.userTags,
          };
          return ctx.bus.call(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.add, body, { resourceUuid: p.resourceUuid });
        },
      }),
    );
  },
};
