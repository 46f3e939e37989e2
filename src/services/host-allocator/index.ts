import { HOST_TAG_SYSTEM_TAG, HostAllocatorMessages, HostAllocatorStrategyPoint, type AllocateHostRequest, type ReleaseHostRequest } from '../../contracts/host-allocator.ts';
import { ClusterLifecyclePoint } from '../../contracts/cluster.ts';
import { AfterHostConnected, HostEvents, HostLifecyclePoint, HostMessages } from '../../contracts/host.ts';
import { noRollback } from '../../core/flow/index.ts';
import { serviceFromHandlers, type Message } from '../../core/bus/index.ts';
import type { ServiceModule } from '../../core/node-context.ts';
import { allocateHost } from './allocator.ts';
import { HostViews } from './host-view.ts';
import { builtinStrategies } from './strategies.ts';

/**
 * The host allocator: `hostAllocator.Allocate` picks a host for a CPU/memory request (filters, then the
 * offering's strategy) and reserves the capacity on it; `hostAllocator.Release` gives it back. Strategies
 * are implementations of `HostAllocatorStrategyPoint`, so a plugin can add its own by name.
 */
export const hostAllocatorService: ServiceModule = {
  id: 'hostAllocator',
  setup(ctx) {
    for (const [name, impl] of Object.entries(builtinStrategies)) ctx.extensions.registerStrategy(HostAllocatorStrategyPoint, name, impl, { by: 'hostAllocator' });
    // An instance offering may require host tags: `hostTag::gpu` sends its VMs only to hosts tagged `gpu`.
    ctx.systemTags.define({ pattern: HOST_TAG_SYSTEM_TAG, resourceType: 'InstanceOfferingVO' });
    const views = new HostViews();
    // A host that connects or disconnects anywhere changes what every node may pick.
    ctx.bus.subscribe(HostEvents.statusChanged, () => views.clear());
    // So do, on this node, a host's or cluster's state change and a (re)connect, which may bring new capacity
    // totals without a status change (a Connected host reconnected): a view may be kept for seconds
    // (CAPACITY_BLIND_VIEW_TTL_MS), and a host it holds as unable would be passed over meanwhile. A view
    // read while a host was between states (Connecting, PreMaintenance) is kept only briefly (host-view.ts).
    ctx.extensions.registerObserver(HostLifecyclePoint, { afterChangeState: () => views.clear() }, { by: 'hostAllocator' });
    ctx.extensions.registerObserver(ClusterLifecyclePoint, { afterChangeState: () => views.clear() }, { by: 'hostAllocator' });
    ctx.flows.insert(AfterHostConnected, { name: 'host-allocator-forget-views', run: () => views.clear(), rollback: noRollback });
    ctx.bus.registerService(
      serviceFromHandlers('hostAllocator', {
        [HostAllocatorMessages.allocate]: (msg: Message<AllocateHostRequest>) => allocateHost(ctx, msg.body, views),
        async [HostAllocatorMessages.release](msg: Message<ReleaseHostRequest>) {
          await ctx.bus.call('host', HostMessages.releaseCapacity, msg.body, { resourceUuid: msg.body.hostUuid });
          const memoryRatio = Number(ctx.config.get('mevoco', 'overProvisioning.memory') ?? 1);
          views.adjust(msg.body.hostUuid, msg.body.cpuNum, Math.ceil(msg.body.memorySize / memoryRatio));
          return {};
        },
      }),
    );
  },
};
