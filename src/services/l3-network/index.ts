import { L3NetworkMessages } from '../../contracts/network.ts';
import { serviceFromHandlers } from '../../core/bus/index.ts';
import type { ServiceModule } from '../../core/node-context.ts';
import { l3NetworkApis } from './apis.ts';
import { l3CascadeEntry, l3DeleteHandler } from './cascade.ts';
import { createL3Chain } from './flows/create-l3-chain.ts';
import { l3Handlers } from './handlers.ts';
import { ipamHandlers } from './ipam-handlers.ts';
import { l3Inventories, l3NetworkMigration } from './schema.ts';
import { usedIpIndexesMigration } from './used-ip-indexes.ts';

/**
 * L3 networks (IPv4 only): IP ranges by addresses or CIDR, DNS servers, and the IPAM that gives
 * addresses to NICs and VIPs through `l3.AllocateIp` / `l3.ReleaseIp` (contracts/network.ts).
 */
export const l3NetworkService: ServiceModule = {
  id: 'l3Network',
  migrations: [l3NetworkMigration, usedIpIndexesMigration],
  inventories: l3Inventories,
  apis: l3NetworkApis,
  setup(ctx) {
    ctx.flows.registerChain(createL3Chain);
    ctx.cascade.register(l3CascadeEntry(ctx));
    ctx.bus.registerService(serviceFromHandlers('l3Network', { ...l3Handlers(ctx), ...ipamHandlers(ctx), [L3NetworkMessages.delete]: l3DeleteHandler(ctx) }));
  },
};
