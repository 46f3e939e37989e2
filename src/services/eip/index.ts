import { serviceFromHandlers } from '../../core/bus/index.ts';
import type { ServiceModule } from '../../core/node-context.ts';
import { eipApis } from './apis.ts';
import { createEipChain } from './flows/create-eip-chain.ts';
import { eipCascadeEntry, eipHandlers } from './handlers.ts';
import { eipNicHandlers, registerEipNicObserver } from './nic-attach.ts';
import { EipInventory, eipMigration } from './schema.ts';

/**
 * EIPs (control plane): created on a VIP they hold alone, attached to a VM NIC (AttachEip, DetachEip,
 * CreateEip with vmNicUuid); a NIC that is detached or expunged loses its EIPs (they stay, unattached).
 */
export const eipService: ServiceModule = {
  id: 'eip',
  migrations: [eipMigration],
  inventories: [EipInventory],
  apis: eipApis,
  setup(ctx) {
    ctx.flows.registerChain(createEipChain);
    ctx.cascade.register(eipCascadeEntry(ctx));
    registerEipNicObserver(ctx);
    ctx.bus.registerService(serviceFromHandlers('eip', { ...eipHandlers(ctx), ...eipNicHandlers(ctx) }));
  },
};
