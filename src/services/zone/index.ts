import { serviceFromHandlers } from '../../core/bus/index.ts';
import type { ServiceModule } from '../../core/node-context.ts';
import { zoneApis } from './apis.ts';
import { createZoneChain } from './flows/create-zone-chain.ts';
import { zoneCascadeEntry, zoneHandlers } from './handlers.ts';
import { ZoneInventory, zoneMigration } from './schema.ts';

/** Zones: the top of the resource tree; deleting one cascades to everything beneath it. */
export const zoneService: ServiceModule = {
  id: 'zone',
  migrations: [zoneMigration],
  inventories: [ZoneInventory],
  apis: zoneApis,
  setup(ctx) {
    ctx.flows.registerChain(createZoneChain);
    ctx.cascade.register(zoneCascadeEntry(ctx));
    ctx.bus.registerService(serviceFromHandlers('zone', zoneHandlers(ctx)));
  },
};
