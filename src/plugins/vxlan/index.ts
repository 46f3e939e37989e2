import { HostLifecyclePoint } from '../../contracts/host.ts';
import { L2NetworkLifecyclePoint, L2NetworkTypePoint, L2NetworkTypes } from '../../contracts/network.ts';
import { VmCommandDecoratorPoint, VmNetworkFollowerPoint } from '../../contracts/vm.ts';
import type { ServiceModule } from '../../core/node-context.ts';
import { hostAgent } from './host-agent.ts';
import { noVlanBridges } from './novlan-bridges.ts';
import { vxlanVtepMigration } from './schema.ts';
import { vtepStore } from './vteps.ts';
import { vxlanFollower } from './vxlan-follower.ts';
import { vxlanNicDecorator } from './vxlan-nic-decorator.ts';

export { hostAgent, type HostAgent } from './host-agent.ts';
export { bridgeOf, l3Realizations, nicsOnHost, type L3Realization } from './network-views.ts';
export { Presence } from './presence.ts';

/** Followers run in this order: L2 (bridges, VTEPs) first, so L3 services (DHCP, firewalls) find their bridge. */
export const VXLAN_FOLLOWER_ORDER = -20;

/**
 * L2 networks on hosts: VXLAN VTEPs and bridges follow the VMs (contracts/vm.ts VmNetworkFollowerPoint),
 * VTEP peers are kept current as hosts come and go; NoVlan bridges are made at cluster attach and host
 * connect on KVM hosts.
 */
export const vxlanPlugin: ServiceModule = {
  id: 'vxlan',
  migrations: [vxlanVtepMigration],
  setup(ctx) {
    const agent = hostAgent(ctx);
    const vteps = vtepStore({ db: ctx.db, agent, systemTags: ctx.systemTags });
    const { follower, repopulate } = vxlanFollower({ db: ctx.db, agent, vteps, queues: ctx.queues, log: ctx.log });
    const noVlan = noVlanBridges({ db: ctx.db, agent, log: ctx.log });
    ctx.extensions.registerObserver(VmCommandDecoratorPoint, vxlanNicDecorator(ctx.db), { by: 'vxlan' });
    ctx.extensions.registerObserver(VmNetworkFollowerPoint, {
      beforeNicsOnHost: follower.beforeNicsOnHost,
      nicsLeftHost: follower.nicsLeftHost,
      async hostConnected(hostUuid, vms, stillOnHost) {
        await noVlan.hostConnected(hostUuid);
        await follower.hostConnected!(hostUuid, vms, stillOnHost);
      },
      pruneHost: follower.pruneHost,
    }, { order: VXLAN_FOLLOWER_ORDER, by: 'vxlan' });
    if (!ctx.extensions.findStrategy(L2NetworkTypePoint, L2NetworkTypes.noVlan)) ctx.extensions.registerStrategy(L2NetworkTypePoint, L2NetworkTypes.noVlan, noVlan.backend, { by: 'vxlan' });
    const forgetAndRepopulate = async (where: Parameters<typeof vteps.forget>[0]) => {
      for (const pool of new Set((await vteps.forget(where)).map((g) => g.poolUuid))) await repopulate(pool);
    };
    ctx.extensions.registerObserver(HostLifecyclePoint, { afterDelete: (h) => forgetAndRepopulate({ hostUuid: h.uuid }) }, { by: 'vxlan' });
    ctx.extensions.registerObserver(L2NetworkLifecyclePoint, {
      async afterAttachCluster(l2, clusterUuid) {
        if (l2.type !== L2NetworkTypes.vxlanPool) return;
        const hosts = await ctx.db.selectFrom('host').select('uuid').where('clusterUuid', '=', clusterUuid).where('status', '=', 'Connected').execute();
        for (const h of hosts) {
          const found = await vteps.discover(h.uuid as string, l2.uuid).catch((err: unknown) => ctx.log.warn({ err, hostUuid: h.uuid, poolUuid: l2.uuid }, 'vxlan: no VTEP for this host in the pool'));
          if (found?.changed) await repopulate(l2.uuid, h.uuid as string);
        }
      },
      async afterDetachCluster(l2, clusterUuid) {
        if (l2.type === L2NetworkTypes.vxlanPool) await forgetAndRepopulate({ poolUuid: l2.uuid, clusterUuid });
      },
      async afterDelete(l2) {
        if (l2.type === L2NetworkTypes.vxlanPool) await vteps.forget({ poolUuid: l2.uuid });
      },
    }, { by: 'vxlan' });
  },
};
