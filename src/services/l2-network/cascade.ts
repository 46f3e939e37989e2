import { L2NetworkLifecyclePoint, L2NetworkMessages } from '../../contracts/network.ts';
import type { Message } from '../../core/bus/index.ts';
import type { CascadeEntry } from '../../core/cascade/index.ts';
import { StratoError } from '../../core/errors/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { findRow } from '../../core/resource/resource-store.ts';
import type { SystemTagPattern } from '../../core/tag/index.ts';
import { detachRefs } from './cluster-attach.ts';
import { l2Queue } from './handlers.ts';
import { l2View } from './l2-view.ts';
import { L2NetworkInventory } from './schema.ts';

/** L2 networks hang under zones; L3 networks (the l3-network service) hang under them. */
export function l2CascadeEntry(ctx: NodeContext): CascadeEntry {
  const { db, extensions, bus } = ctx;
  return {
    resource: 'L2NetworkVO',
    parents: ['ZoneVO'],
    async children(_parent, zoneUuids) {
      return (await db.selectFrom('l2_network').select('uuid').where('zoneUuid', 'in', zoneUuids).execute()).map((r) => r.uuid as string);
    },
    async check(uuids) {
      for (const uuid of uuids) {
        const row = await findRow(db, L2NetworkInventory, uuid);
        if (row) await extensions.callVeto(L2NetworkLifecyclePoint, 'preDelete', l2View(row));
      }
    },
    async delete(uuids, { force }) {
      const results = await Promise.all(uuids.map((uuid) => bus.send('l2Network', L2NetworkMessages.delete, { uuid }, { resourceUuid: uuid })));
      const failed = results.find((r) => !r.success);
      if (failed && !failed.success && !force) throw new StratoError(failed.error);
    },
  };
}

/**
 * A cluster ref goes with its L2 network and with its cluster: deleting a cluster detaches the
 * L2 networks from it (the L2 networks stay), ZStack's L2NetworkCascadeExtension on ClusterVO.
 */
export function l2ClusterRefCascadeEntry(ctx: NodeContext, cidrTag: SystemTagPattern): CascadeEntry {
  const { db } = ctx;
  return {
    resource: 'L2NetworkClusterRefVO',
    parents: ['L2NetworkVO', 'ClusterVO'],
    async children(parent, uuids) {
      const column = parent === 'ClusterVO' ? 'clusterUuid' : 'l2NetworkUuid';
      return (await db.selectFrom('l2_network_cluster_ref').select('id').where(column, 'in', uuids).execute()).map((r) => r.id as string);
    },
    async delete(ids) {
      const refs = await db.selectFrom('l2_network_cluster_ref').select(['l2NetworkUuid', 'clusterUuid']).where('id', 'in', ids).execute();
      for (const ref of refs) {
        const l2 = await findRow(db, L2NetworkInventory, ref.l2NetworkUuid as string);
        if (l2) await detachRefs(ctx, cidrTag, [{ l2, clusterUuid: ref.clusterUuid as string }]);
        else await db.deleteFrom('l2_network_cluster_ref').where('l2NetworkUuid', '=', ref.l2NetworkUuid).where('clusterUuid', '=', ref.clusterUuid).execute();
      }
    },
  };
}

/** `l2.Delete`: removes one L2 network (its refs and L3 networks are already gone) with its VNI ranges and tags. */
export function l2DeleteHandler(ctx: NodeContext) {
  const { db, queues, tags, extensions } = ctx;
  return async (msg: Message<{ uuid: string }>) =>
    queues.submit(l2Queue(msg.body.uuid), async () => {
      const row = await findRow(db, L2NetworkInventory, msg.body.uuid);
      if (!row) return {};
      const ranges = (await db.selectFrom('vni_range').select('uuid').where('l2NetworkUuid', '=', msg.body.uuid).execute()).map((r) => r.uuid as string);
      await db.deleteFrom('vni_range').where('l2NetworkUuid', '=', msg.body.uuid).execute();
      await db.deleteFrom('l2_network_cluster_ref').where('l2NetworkUuid', '=', msg.body.uuid).execute();
      await db.deleteFrom('l2_network').where('uuid', '=', msg.body.uuid).execute();
      await tags.deleteForResources([msg.body.uuid, ...ranges]);
      await extensions.callSafe(L2NetworkLifecyclePoint, 'afterDelete', l2View(row));
      return {};
    });
}
