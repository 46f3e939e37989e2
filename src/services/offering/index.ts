import { serviceFromHandlers } from '../../core/bus/index.ts';
import type { ServiceModule } from '../../core/node-context.ts';
import { offeringApis } from './apis.ts';
import { createDiskOfferingChain } from './flows/create-disk-offering-chain.ts';
import { createInstanceOfferingChain } from './flows/create-instance-offering-chain.ts';
import { offeringHandlers } from './handlers.ts';
import { DiskOfferingInventory, InstanceOfferingInventory, offeringMigration } from './schema.ts';

/** Instance offerings (CPU, memory, host allocator) and disk offerings (size): ZStack's `configuration` service. */
export const offeringService: ServiceModule = {
  id: 'offering',
  migrations: [offeringMigration],
  inventories: [InstanceOfferingInventory, DiskOfferingInventory],
  apis: offeringApis,
  setup(ctx) {
    ctx.flows.registerChain(createInstanceOfferingChain);
    ctx.flows.registerChain(createDiskOfferingChain);
    ctx.bus.registerService(serviceFromHandlers('offering', offeringHandlers(ctx)));
  },
};
