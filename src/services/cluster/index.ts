import { serviceFromHandlers } from '../../core/bus/index.ts';
import type { ServiceModule } from '../../core/node-context.ts';
import { clusterApis } from './apis.ts';
import { createClusterChain } from './flows/create-cluster-chain.ts';
import { clusterCascadeEntry, clusterHandlers } from './handlers.ts';
import { ClusterInventory, clusterMigration } from './schema.ts';

/** Clusters: groups of hosts of one hypervisor type inside a zone. */
export const clusterService: ServiceModule = {
  id: 'cluster',
  migrations: [clusterMigration],
  inventories: [ClusterInventory],
  apis: clusterApis,
  setup(ctx) {
    ctx.flows.registerChain(createClusterChain);
    ctx.cascade.register(clusterCascadeEntry(ctx));
    ctx.bus.registerService(serviceFromHandlers('cluster', clusterHandlers(ctx)));
  },
};
