import { L2NetworkLifecyclePoint, L2NetworkTypePoint, L2NetworkTypes, type CreateL2NetworkCtx } from '../../contracts/network.ts';
import type { FlowStep } from '../../core/flow/index.ts';
import type { ApiParams } from '../../core/api/define-api.ts';
import type { Message } from '../../core/bus/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { findRow, loadInventory } from '../../core/resource/resource-store.ts';
import type { SystemTagPattern } from '../../core/tag/index.ts';
import { newUuid } from '../../core/util/uuid.ts';
import type { AttachL2NetworkToCluster, DetachL2NetworkFromCluster } from './apis.ts';
import { l2NotFound, l2Queue } from './handlers.ts';
import { l2View } from './l2-view.ts';
import { L2NetworkInventory } from './schema.ts';
import { checkClusterCanRealizeVlan } from './vlan-support.ts';
import { isUniqueViolation } from '../../core/db/unique-violation.ts';

/**
 * Attaching an L2 network to a cluster writes an `l2_network_cluster_ref` row after the type's
 * backend accepted it (a real backend realizes the network on the cluster's hosts there). The
 * VXLAN pool's `…::cidr::…` system tag given to the attach is kept on the pool until the detach, and
 * the pool's VXLAN networks are attached and detached with it.
 */
export function clusterAttachHandlers(ctx: NodeContext, cidrTag: SystemTagPattern) {
  const { db, queues, extensions, tags } = ctx;

  async function loadBoth(l2NetworkUuid: string, clusterUuid: string) {
    const l2 = await findRow(db, L2NetworkInventory, l2NetworkUuid);
    if (!l2) throw l2NotFound(l2NetworkUuid);
    const cluster = await db.selectFrom('cluster').select(['uuid', 'zoneUuid']).where('uuid', '=', clusterUuid).executeTakeFirst();
    if (!cluster) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find Cluster[uuid:${clusterUuid}]`);
    return { l2, cluster };
  }

  return {
    async AttachL2NetworkToCluster(msg: Message<ApiParams<typeof AttachL2NetworkToCluster>>) {
      const p = msg.body;
      return queues.submit(l2Queue(p.l2NetworkUuid), async () => {
        const { l2, cluster } = await loadBoth(p.l2NetworkUuid, p.clusterUuid);
        if (cluster.zoneUuid !== l2.zoneUuid) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `L2 network ${l2.uuid} is in zone ${l2.zoneUuid} and cluster ${cluster.uuid} in zone ${cluster.zoneUuid}: they cannot be attached`);
        const existing = await db.selectFrom('l2_network_cluster_ref').select('id').where('l2NetworkUuid', '=', p.l2NetworkUuid).where('clusterUuid', '=', p.clusterUuid).executeTakeFirst();
        if (existing) return loadInventory(db, L2NetworkInventory, p.l2NetworkUuid); // already attached: ZStack answers success
        const systemTags = p.systemTags ?? [];
        for (const t of systemTags) ctx.systemTags.validate('L2NetworkVO', t, { isAdmin: true });
        const view = l2View(l2);
        if (view.type === L2NetworkTypes.vlan) await checkClusterCanRealizeVlan(ctx, p.l2NetworkUuid, p.clusterUuid);
        await extensions.strategy(L2NetworkTypePoint, view.type).attachToCluster?.(view, p.clusterUuid, systemTags);
        const now = Date.now();
        try {
          await db.insertInto('l2_network_cluster_ref').values({ id: newUuid(), l2NetworkUuid: p.l2NetworkUuid, clusterUuid: p.clusterUuid, l2ProviderType: p.l2ProviderType ?? 'LinuxBridge', createDate: now, lastOpDate: now }).execute();
        } catch (e) {
          if (!isUniqueViolation(e)) throw e; // attached concurrently through another node: same outcome
        }
        // A pool's VXLAN networks reach the clusters the pool reaches (as ZStack's do): their refs follow it.
        if (view.type === L2NetworkTypes.vxlanPool) {
          const members = await db.selectFrom('l2_network').select('uuid').where('poolUuid', '=', p.l2NetworkUuid).execute();
          await insertRefs(ctx, members.map((m) => m.uuid as string), p.clusterUuid);
        }
        for (const tag of systemTags) await tags.create('system', { resourceUuid: p.l2NetworkUuid, resourceType: 'L2NetworkVO', tag });
        await extensions.callSafe(L2NetworkLifecyclePoint, 'afterAttachCluster', view, p.clusterUuid);
        return loadInventory(db, L2NetworkInventory, p.l2NetworkUuid);
      });
    },

    async DetachL2NetworkFromCluster(msg: Message<ApiParams<typeof DetachL2NetworkFromCluster>>) {
      const p = msg.body;
      return queues.submit(l2Queue(p.l2NetworkUuid), async () => {
        const { l2 } = await loadBoth(p.l2NetworkUuid, p.clusterUuid);
        await detachRefs(ctx, cidrTag, [{ l2, clusterUuid: p.clusterUuid }]);
        return loadInventory(db, L2NetworkInventory, p.l2NetworkUuid);
      });
    },
  };
}

async function insertRefs(ctx: NodeContext, l2Uuids: readonly string[], clusterUuid: string): Promise<void> {
  const now = Date.now();
  for (const l2NetworkUuid of l2Uuids) {
    try {
      await ctx.db.insertInto('l2_network_cluster_ref').values({ id: newUuid(), l2NetworkUuid, clusterUuid, l2ProviderType: 'LinuxBridge', createDate: now, lastOpDate: now }).execute();
    } catch (e) {
      if (!isUniqueViolation(e)) throw e; // attached already
    }
  }
}

/** `l2.create`: a VXLAN network made in a pool is attached to the pool's clusters (it runs in the pool's queue, as attaches do). */
export function inheritPoolClusters(ctx: NodeContext): FlowStep<CreateL2NetworkCtx> {
  return {
    name: 'inherit-pool-clusters',
    skip: (c) => c.type !== L2NetworkTypes.vxlan || !c.poolUuid,
    async run(c) {
      const refs = await ctx.db.selectFrom('l2_network_cluster_ref').select('clusterUuid').where('l2NetworkUuid', '=', c.poolUuid!).execute();
      for (const r of refs) await insertRefs(ctx, [c.uuid], r.clusterUuid as string);
    },
    async rollback(c) {
      await ctx.db.deleteFrom('l2_network_cluster_ref').where('l2NetworkUuid', '=', c.uuid).execute();
    },
  };
}

/**
 * Removes cluster refs (detach, cluster deletion, L2 deletion): the row, the pool's CIDR tag for
 * that cluster, then the backend's and observers' detach hooks, whose errors are logged only.
 */
export async function detachRefs(ctx: NodeContext, cidrTag: SystemTagPattern, refs: Array<{ l2: Record<string, unknown>; clusterUuid: string }>): Promise<void> {
  const { db, extensions } = ctx;
  for (const { l2, clusterUuid } of refs) {
    const r = await db.deleteFrom('l2_network_cluster_ref').where('l2NetworkUuid', '=', l2.uuid as string).where('clusterUuid', '=', clusterUuid).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) continue;
    if (l2.type === L2NetworkTypes.vxlanPool) {
      await db.deleteFrom('l2_network_cluster_ref').where('clusterUuid', '=', clusterUuid).where('l2NetworkUuid', 'in', db.selectFrom('l2_network').select('uuid').where('poolUuid', '=', l2.uuid as string)).execute();
    }
    const tagRows = await db.selectFrom('system_tag').select(['uuid', 'tag']).where('resourceUuid', '=', l2.uuid as string).execute();
    for (const t of tagRows) if (cidrTag.parse(t.tag as string)?.clusterUuid === clusterUuid) await ctx.tags.delete(t.uuid as string);
    const view = l2View(l2);
    try {
      await extensions.findStrategy(L2NetworkTypePoint, view.type)?.detachFromCluster?.(view, clusterUuid);
    } catch (e) {
      ctx.log.warn({ err: e, l2NetworkUuid: view.uuid, clusterUuid }, 'the L2 backend failed to detach; the ref is gone anyway');
    }
    await extensions.callSafe(L2NetworkLifecyclePoint, 'afterDetachCluster', view, clusterUuid);
  }
}
