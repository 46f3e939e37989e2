import { serviceFromHandlers } from '../../core/bus/index.ts';
import type { ServiceModule } from '../../core/node-context.ts';
import { vipApis } from './apis.ts';
import { createVipChain } from './flows/create-vip-chain.ts';
import { vipCascadeEntry, vipHandlers } from './handlers.ts';
import { vipInventories, vipMigration } from './schema.ts';

/**
 * VIPs: addresses of Public (or System) L3 networks taken from the IPAM with usedFor=Vip, acquired
 * and released by the network services that use them (`vip.Acquire`/`vip.Release`, contracts/vip.ts).
 */
export const vipService: ServiceModule = {
  id: 'vip',
  migrations: [vipMigration],
  inventories: vipInventories,
  apis: vipApis,
  setup(ctx) {
    ctx.flows.registerChain(createVipChain);
    ctx.cascade.register(vipCascadeEntry(ctx));
    ctx.bus.registerService(serviceFromHandlers('vip', vipHandlers(ctx)));
  },
};
