import { serviceFromHandlers } from '../../core/bus/index.ts';
import type { ServiceModule } from '../../core/node-context.ts';
import { networkServiceApis } from './apis.ts';
import { networkServiceHandlers, networkServiceRefCascadeEntry } from './handlers.ts';
import { ensureProviders } from './providers.ts';
import { networkServiceInventories, networkServiceMigration } from './schema.ts';

/**
 * Network service providers (a strategy point, `NetworkServiceProviderTypePoint`) and the services
 * attached to L3 networks. Providers are rows created at start-up, one per registered type.
 */
export const networkServiceService: ServiceModule = {
  id: 'networkService',
  migrations: [networkServiceMigration],
  inventories: networkServiceInventories,
  apis: networkServiceApis,
  setup(ctx) {
    ctx.cascade.register(networkServiceRefCascadeEntry(ctx));
    ctx.bus.registerService(serviceFromHandlers('networkService', networkServiceHandlers(ctx)));
  },
  async start(ctx) {
    await ensureProviders(ctx);
  },
};
