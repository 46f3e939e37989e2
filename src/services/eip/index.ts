import { serviceFromHandlers } from '../../core/bus/index.ts';
import type { ServiceModule } from '../../core/node-context.ts';
import { eipApis } from './apis.ts';
import { createEipChain } from './flows/create-eip-chain.ts';
import { eipCascadeEntry, eipHandlers } from './handlers.ts';
import { EipInventory, eipMigration } from './schema.ts';

/**
 * EIPs (control plane): created on a VIP they hold alone. Attaching to a VM NIC (ZStack's AttachEip,
 * DetachEip, and CreateEip with vmNicUuid) comes with the VM service's NICs.
 */
export const eipService: ServiceModule = {
  id: 'eip',
  migrations: [eipMigration],
  inventories: [EipInventory],
  apis: eipApis,
  setup(ctx) {
    ctx.flows.registerChain(createEipChain);
    ctx.cascade.register(eipCascadeEntry(ctx));
    ctx.bus.registerService(serviceFromHandlers('eip', eipHandlers(ctx)));
  },
};
