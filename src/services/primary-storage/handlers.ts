import {
  PrimaryStorageLifecyclePoint, PrimaryStorageMessages, PrimaryStorageTypePoint,
  type AddPrimaryStorageBody, type AddPrimaryStorageCtx, type PrimaryStorageView,
} from '../../contracts/primary-storage.ts';
import type { ApiParams } from '../../core/api/define-api.ts';
import type { Message } from '../../core/bus/index.ts';
import { isUniqueViolation } from '../../core/db/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { FlowChain } from '../../core/flow/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { findRow, patchRow } from '../../core/resource/resource-store.ts';
import { newUuid } from '../../core/util/uuid.ts';
import type {
  AddLocalPrimaryStorage, AttachPrimaryStorageToCluster, ChangePrimaryStorageState, DeletePrimaryStorage, DetachPrimaryStorageFromCluster, ReconnectPrimaryStorage, UpdatePrimaryStorage,
} from './apis.ts';
import { applyReportedCapacity } from './capacity.ts';
import { loadPrimaryStorage, withClusters } from './primary-storage-view.ts';
import { PrimaryStorageInventory } from './schema.ts';

/** Every operation that changes one primary storage's row or attachments runs in its queue. */
export const queueOf = (uuid: string) => `primary-storage-${uuid}`;

const STATE_AFTER = { enable: 'Enabled', disable: 'Disabled', maintain: 'Maintenance', deleting: 'Deleting' } as const;

export function primaryStorageHandlers(ctx: NodeContext, addChain: FlowChain<AddPrimaryStorageCtx>) {
  const { db, queues, extensions, cascade } = ctx;

  async function mustFind(table: 'zone' | 'cluster', uuid: string): Promise<Record<string, unknown>> {
    const row = await db.selectFrom(table).selectAll().where('uuid', '=', uuid).executeTakeFirst();
    if (!row) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find ${table === 'zone' ? 'Zone' : 'Cluster'}[uuid:${uuid}]`);
    return row;
  }

  async function add(p: AddPrimaryStorageBody) {
    // As ZStack's API interceptor does: an unknown zone first, then a type nobody implements (SYS.1013).
    await mustFind('zone', p.zoneUuid);
    extensions.strategy(PrimaryStorageTypePoint, p.type);
    const uuid = p.resourceUuid ?? newUuid();
    if (p.resourceUuid && (await findRow(db, PrimaryStorageInventory, uuid))) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `a primary storage with uuid ${uuid} already exists`);
    const flowCtx: AddPrimaryStorageCtx = { uuid, zoneUuid: p.zoneUuid, name: p.name, description: p.description, url: p.url, type: p.type, typeParams: p.typeParams ?? {}, systemTags: p.systemTags, userTags: p.userTags };
    await queues.submit(queueOf(uuid), () => ctx.flowEngine.run(addChain, flowCtx, { resourceUuid: uuid }));
    await extensions.callSafe(PrimaryStorageLifecyclePoint, 'afterAdd', await loadPrimaryStorage(db, uuid));
    return withClusters(db, uuid);
  }

  /** Asks the backend for its capacity and records it (the caller holds the storage's queue). */
  async function refresh(ps: PrimaryStorageView): Promise<void> {
    const cap = await extensions.strategy(PrimaryStorageTypePoint, ps.type).capacity(ps);
    await applyReportedCapacity(db, ps.uuid, cap);
  }

  return {
    AddLocalPrimaryStorage: (msg: Message<ApiParams<typeof AddLocalPrimaryStorage>>) => {
      const { url, name, description, zoneUuid, systemTags, userTags, resourceUuid } = msg.body;
      return add({ resourceUuid, zoneUuid, name, description, url, type: 'LocalStorage', systemTags, userTags });
    },

    [PrimaryStorageMessages.add]: (msg: Message<AddPrimaryStorageBody>) => add(msg.body),

    async UpdatePrimaryStorage(msg: Message<ApiParams<typeof UpdatePrimaryStorage>>) {
      const p = msg.body;
      return queues.submit(queueOf(p.uuid), async () => {
        await patchRow(db, PrimaryStorageInventory, p.uuid, { name: p.name, description: p.description, url: p.url });
        return withClusters(db, p.uuid);
      });
    },

    async ChangePrimaryStorageState(msg: Message<ApiParams<typeof ChangePrimaryStorageState>>) {
      const p = msg.body;
      return queues.submit(queueOf(p.uuid), async () => {
        await patchRow(db, PrimaryStorageInventory, p.uuid, { state: STATE_AFTER[p.stateEvent] });
        return withClusters(db, p.uuid);
      });
    },

    async ReconnectPrimaryStorage(msg: Message<ApiParams<typeof ReconnectPrimaryStorage>>) {
      const p = msg.body;
      return queues.submit(queueOf(p.uuid), async () => {
        const ps = await loadPrimaryStorage(db, p.uuid);
        const backend = extensions.strategy(PrimaryStorageTypePoint, ps.type);
        await patchRow(db, PrimaryStorageInventory, p.uuid, { status: 'Connecting' });
        try {
          await applyReportedCapacity(db, p.uuid, await backend.connect(ps));
          await patchRow(db, PrimaryStorageInventory, p.uuid, { status: 'Connected' });
        } catch (e) {
          await patchRow(db, PrimaryStorageInventory, p.uuid, { status: 'Disconnected' });
          throw new StratoError(SysErrors.OPERATION_ERROR, `failed to reconnect primary storage ${p.uuid}`, { cause: e });
        }
        return withClusters(db, p.uuid);
      });
    },

    async DeletePrimaryStorage(msg: Message<ApiParams<typeof DeletePrimaryStorage>>) {
      const p = msg.body;
      // Not in the storage's queue: the cascade's primaryStorage.Delete runs there.
      if (!(await findRow(db, PrimaryStorageInventory, p.uuid))) return {};
      const mode = p.deleteMode ?? 'Permissive';
      const result = await cascade.delete({ resource: 'PrimaryStorageVO', uuids: [p.uuid], mode });
      if (result.errors.length && mode === 'Permissive') throw new StratoError(SysErrors.DELETE_RESOURCE_ERROR, `failed to delete primary storage ${p.uuid}`, { cause: result.errors[0].error });
      return {};
    },

    async AttachPrimaryStorageToCluster(msg: Message<ApiParams<typeof AttachPrimaryStorageToCluster>>) {
      const p = msg.body;
      return queues.submit(queueOf(p.primaryStorageUuid), async () => {
        const ps = await loadPrimaryStorage(db, p.primaryStorageUuid);
        const cluster = await mustFind('cluster', p.clusterUuid);
        if (cluster.zoneUuid !== ps.zoneUuid) throw new StratoError(SysErrors.OPERATION_ERROR, `primary storage ${ps.uuid} is in zone ${ps.zoneUuid}, cluster ${p.clusterUuid} in zone ${String(cluster.zoneUuid)}`);
        const now = Date.now();
        const id = newUuid();
        try {
          await db.insertInto('primary_storage_cluster_ref').values({ id, primaryStorageUuid: ps.uuid, clusterUuid: p.clusterUuid, createDate: now, lastOpDate: now }).execute();
        } catch (e) {
          if (isUniqueViolation(e)) throw new StratoError(SysErrors.OPERATION_ERROR, `primary storage ${ps.uuid} is already attached to cluster ${p.clusterUuid}`);
          throw e;
        }
        const backend = extensions.strategy(PrimaryStorageTypePoint, ps.type);
        try {
          await backend.attachToCluster?.(ps, p.clusterUuid);
          await refresh(ps);
        } catch (e) {
          await backend.detachFromCluster?.(ps, p.clusterUuid).catch((err: unknown) => ctx.log.warn({ err, ps: ps.uuid }, 'primary storage: undoing a failed attach failed'));
          await db.deleteFrom('primary_storage_cluster_ref').where('id', '=', id).execute();
          await refresh(ps).catch(() => undefined);
          throw e;
        }
        await extensions.callSafe(PrimaryStorageLifecyclePoint, 'afterAttachToCluster', ps, p.clusterUuid);
        return withClusters(db, ps.uuid);
      });
    },

    async DetachPrimaryStorageFromCluster(msg: Message<ApiParams<typeof DetachPrimaryStorageFromCluster>>) {
      const p = msg.body;
      return queues.submit(queueOf(p.primaryStorageUuid), async () => {
        const ps = await loadPrimaryStorage(db, p.primaryStorageUuid);
        await mustFind('cluster', p.clusterUuid);
        const ref = await db.selectFrom('primary_storage_cluster_ref').select('id').where('primaryStorageUuid', '=', ps.uuid).where('clusterUuid', '=', p.clusterUuid).executeTakeFirst();
        if (!ref) throw new StratoError(SysErrors.OPERATION_ERROR, `primary storage ${ps.uuid} is not attached to cluster ${p.clusterUuid}`);
        await extensions.callVeto(PrimaryStorageLifecyclePoint, 'preDetachFromCluster', ps, p.clusterUuid);
        await db.deleteFrom('primary_storage_cluster_ref').where('id', '=', ref.id).execute();
        await extensions.strategy(PrimaryStorageTypePoint, ps.type).detachFromCluster?.(ps, p.clusterUuid);
        await refresh(ps);
        await extensions.callSafe(PrimaryStorageLifecyclePoint, 'afterDetachFromCluster', ps, p.clusterUuid);
        return withClusters(db, ps.uuid);
      });
    },

    async [PrimaryStorageMessages.syncCapacity](msg: Message<{ uuid: string }>) {
      return queues.submit(queueOf(msg.body.uuid), async () => {
        if (!(await findRow(db, PrimaryStorageInventory, msg.body.uuid))) return {};
        await refresh(await loadPrimaryStorage(db, msg.body.uuid));
        return withClusters(db, msg.body.uuid);
      });
    },
  };
}
