import { AfterHostConnected } from '../../contracts/host.ts';
import { AfterL2NetworkPersisted, L2NetworkMessages } from '../../contracts/network.ts';
import { serviceFromHandlers } from '../../core/bus/index.ts';
import type { NodeContext, ServiceModule } from '../../core/node-context.ts';
import type { SystemTagPattern } from '../../core/tag/index.ts';
import { l2NetworkApis } from './apis.ts';
import { defineVxlanCidrTag, registerBuiltinL2Types } from './builtin-l2-types.ts';
import { l2CascadeEntry, l2ClusterRefCascadeEntry, l2DeleteHandler } from './cascade.ts';
import { clusterAttachHandlers, inheritPoolClusters } from './cluster-attach.ts';
import { createL2Chain } from './flows/create-l2-chain.ts';
import { l2Handlers } from './handlers.ts';
import { l2Inventories, l2NetworkMigration } from './schema.ts';
import { defineVlanSupportTag, recordHostVlanSupport } from './vlan-support.ts';

const cidrTags = new WeakMap<NodeContext, SystemTagPattern>();

/**
 * L2 networks (ZStack's header/network/l2 and plugin/vxlan): NoVlan, Vlan, VXLAN pools with VNI
 * ranges and VXLAN networks; attachment to clusters. The type is a strategy point
 * (`L2NetworkTypePoint`): the built-in backends only validate and persist.
 */
export const l2NetworkService: ServiceModule = {
  id: 'l2Network',
  migrations: [l2NetworkMigration],
  inventories: l2Inventories,
  apis: l2NetworkApis,
  setup(ctx) {
    const cidrTag = defineVxlanCidrTag(ctx);
    cidrTags.set(ctx, cidrTag);
    const chain = createL2Chain(ctx.extensions);
    ctx.flows.registerChain(chain);
    ctx.flows.insert(AfterL2NetworkPersisted, inheritPoolClusters(ctx));
    defineVlanSupportTag(ctx);
    ctx.flows.insert(AfterHostConnected, recordHostVlanSupport(ctx));
    ctx.cascade.register(l2CascadeEntry(ctx));
    ctx.cascade.register(l2ClusterRefCascadeEntry(ctx, cidrTag));
    ctx.bus.registerService(serviceFromHandlers('l2Network', { ...l2Handlers(ctx, chain), ...clusterAttachHandlers(ctx, cidrTag), [L2NetworkMessages.delete]: l2DeleteHandler(ctx) }));
  },
  start(ctx) {
    registerBuiltinL2Types(ctx, cidrTags.get(ctx)!);
  },
};
