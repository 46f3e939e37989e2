import { ClusterLifecyclePoint, ClusterMessages, type ClusterInventoryView, type CreateClusterCtx } from '../../contracts/cluster.ts';
import type { ApiParams } from '../../core/api/define-api.ts';
import type { Message } from '../../core/bus/index.ts';
import type { CascadeEntry } from '../../core/cascade/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { findRow, loadInventory, patchRow, stateAfter } from '../../core/resource/resource-store.ts';
import { newUuid } from '../../core/util/uuid.ts';
import type { ChangeClusterState, CreateCluster, DeleteCluster, UpdateCluster } from './apis.ts';
import { createClusterChain } from './flows/create-cluster-chain.ts';
import { ClusterInventory } from './schema.ts';

const queueOf = (uuid: string) => `cluster-${uuid}`;

export function clusterHandlers(ctx: NodeContext) {
  const { db, queues, extensions, cascade, tags } = ctx;
  const load = (uuid: string) => loadInventory(db, ClusterInventory, uuid) as Promise<ClusterInventoryView & Record<string, unknown>>;

  return {
    async CreateCluster(msg: Message<ApiParams<typeof CreateCluster>>) {
      const p = msg.body;
      const uuid = p.resourceUuid ?? newUuid();
      if (p.resourceUuid && (await findRow(db, ClusterInventory, uuid))) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `a cluster with uuid ${uuid} already exists`);
      const flowCtx: CreateClusterCtx = { uuid, zoneUuid: p.zoneUuid, name: p.name, description: p.description, hypervisorType: p.hypervisorType, architecture: p.architecture, systemTags: p.systemTags, userTags: p.userTags };
      // In the zone's queue: a cluster is never created into a zone being deleted at the same moment.
      await queues.submit(`zone-${p.zoneUuid}`, () => ctx.flowEngine.run(createClusterChain, flowCtx, { resourceUuid: uuid }));
      const cluster = await load(uuid);
      await extensions.callSafe(ClusterLifecyclePoint, 'afterCreate', cluster);
      return cluster;
    },

    async UpdateCluster(msg: Message<ApiParams<typeof UpdateCluster>>) {
      const p = msg.body;
      return queues.submit(queueOf(p.uuid), () => patchRow(db, ClusterInventory, p.uuid, { name: p.name, description: p.description }));
    },

    async ChangeClusterState(msg: Message<ApiParams<typeof ChangeClusterState>>) {
      const p = msg.body;
      return queues.submit(queueOf(p.uuid), async () => {
        const cluster = await load(p.uuid);
        await extensions.callVeto(ClusterLifecyclePoint, 'preChangeState', cluster, p.stateEvent);
        const after = (await patchRow(db, ClusterInventory, p.uuid, { state: stateAfter(p.stateEvent) })) as ClusterInventoryView;
        if (after.state !== cluster.state) await extensions.callSafe(ClusterLifecyclePoint, 'afterChangeState', after, cluster.state);
        return after;
      });
    },

    async DeleteCluster(msg: Message<ApiParams<typeof DeleteCluster>>) {
      const p = msg.body;
      // Not in the cluster's queue here: the cascade's delete message for this cluster runs there.
      if (!(await findRow(db, ClusterInventory, p.uuid))) return {};
      const result = await cascade.delete({ resource: 'ClusterVO', uuids: [p.uuid], mode: p.deleteMode ?? 'Permissive' });
      if (result.errors.length && (p.deleteMode ?? 'Permissive') === 'Permissive') throw new StratoError(SysErrors.DELETE_RESOURCE_ERROR, `failed to delete cluster ${p.uuid}`, { cause: result.errors[0].error });
      return {};
    },

    /** Sent by the cascade when a parent goes: removes one cluster in its own queue. */
    async [ClusterMessages.delete](msg: Message<{ uuid: string }>) {
      return queues.submit(queueOf(msg.body.uuid), async () => {
        const row = await findRow(db, ClusterInventory, msg.body.uuid);
        if (!row) return {};
        await db.deleteFrom('cluster').where('uuid', '=', msg.body.uuid).execute();
        await tags.deleteForResources([msg.body.uuid]);
        await extensions.callSafe(ClusterLifecyclePoint, 'afterDelete', row as unknown as ClusterInventoryView);
        return {};
      });
    },
  };
}

/** Clusters hang under zones: a zone's deletion reaches each of its clusters through a message to the cluster's owner. */
export function clusterCascadeEntry(ctx: NodeContext): CascadeEntry {
  const { db, extensions, bus } = ctx;
  return {
    resource: 'ClusterVO',
    parents: ['ZoneVO'],
    async children(_parent, zoneUuids) {
      const rows = await db.selectFrom('cluster').select('uuid').where('zoneUuid', 'in', zoneUuids).execute();
      return rows.map((r) => r.uuid as string);
    },
    async check(uuids) {
      for (const uuid of uuids) await extensions.callVeto(ClusterLifecyclePoint, 'preDelete', (await loadInventory(db, ClusterInventory, uuid)) as ClusterInventoryView);
    },
    async delete(uuids, { force }) {
      const results = await Promise.all(uuids.map((uuid) => bus.send('cluster', ClusterMessages.delete, { uuid }, { resourceUuid: uuid })));
      const failed = results.find((r) => !r.success);
      if (failed && !failed.success && !force) throw new StratoError(failed.error);
    },
  };
}
