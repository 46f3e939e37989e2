import { PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages, type PrimaryStorageView } from '../../contracts/primary-storage.ts';
import { SnapshotLifecyclePoint, VOLUME_SNAPSHOT_SERVICE, VolumeSnapshotMessages, type VolumeSnapshotView } from '../../contracts/volume-snapshot.ts';
import type { VolumeView } from '../../contracts/volume.ts';
import type { ApiParams } from '../../core/api/define-api.ts';
import type { Message } from '../../core/bus/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { FlowChain } from '../../core/flow/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { findRow, loadInventory, patchRow } from '../../core/resource/resource-store.ts';
import { newUuid } from '../../core/util/uuid.ts';
import type { CreateVolumeSnapshot, DeleteVolumeSnapshot, RevertVolumeFromSnapshot, UpdateVolumeSnapshot } from './apis.ts';
import { backendFor, bitsOf, type CreateSnapshotCtx, type DeleteSnapshotCtx, type RevertSnapshotCtx, type SnapshotRow } from './flows/snapshot-ctx.ts';
import { VolumeSnapshotInventory } from './schema.ts';

/** The volume service's queue: a volume's snapshot operations are serialized with its own. */
export const volumeQueueOf = (volumeUuid: string) => `volume-${volumeUuid}`;

/** Snapshot operations forwarded to the node owning the snapshot's volume (where its queue lives). */
const OnVolume = { update: 'volumeSnapshot.Update', delete: 'volumeSnapshot.Delete', revert: 'volumeSnapshot.Revert' } as const;

export interface SnapshotChains {
  create: FlowChain<CreateSnapshotCtx>;
  delete: FlowChain<DeleteSnapshotCtx>;
  revert: FlowChain<RevertSnapshotCtx>;
}

export function volumeSnapshotHandlers(ctx: NodeContext, chains: SnapshotChains) {
  const { db, queues, extensions, bus, tags, flowEngine, inventories } = ctx;
  const loadSnapshot = async (uuid: string) => (await loadInventory(db, VolumeSnapshotInventory, uuid)) as SnapshotRow;
  const loadVolume = async (uuid: string) => (await loadInventory(db, inventories.get('VolumeInventory'), uuid)) as VolumeView;
  const loadPs = async (uuid: string) => (await loadInventory(db, inventories.get('PrimaryStorageInventory'), uuid)) as PrimaryStorageView;
  const withCharge = async (uuid: string): Promise<SnapshotRow> => {
    const s = await loadSnapshot(uuid);
    const row = await db.selectFrom('volume_snapshot').select('charged').where('uuid', '=', uuid).executeTakeFirstOrThrow();
    return { ...s, charged: Number(row.charged) };
  };
  const view = async (uuid: string) => (await loadSnapshot(uuid)) as VolumeSnapshotView;

  /** Forwards an operation on an existing snapshot to its volume's node; an unknown snapshot gets `ifMissing`. */
  async function onVolumeOf(type: string, body: { uuid: string }, ifMissing: () => unknown) {
    const row = await db.selectFrom('volume_snapshot').select('volumeUuid').where('uuid', '=', body.uuid).executeTakeFirst();
    if (!row) return ifMissing();
    return bus.call(VOLUME_SNAPSHOT_SERVICE, type, body, { resourceUuid: row.volumeUuid as string });
  }

  /**
   * Deletes every snapshot and tree of a volume, one snapshot at a time (bits, reservation, row), so
   * that a failure leaves the ones not yet reached whole. The caller holds the volume's queue.
   */
  async function dropForVolume(volumeUuid: string, opts: { force?: boolean; keepBits?: boolean } = {}): Promise<void> {
    const rows = await db.selectFrom('volume_snapshot').select('uuid').where('volumeUuid', '=', volumeUuid).orderBy('distance', 'desc').execute();
    for (const { uuid } of rows) {
      const s = await withCharge(uuid as string);
      if (!opts.keepBits) {
        try {
          const ps = await loadPs(s.primaryStorageUuid);
          await backendFor(extensions, ps).deleteSnapshot(ps, bitsOf(s));
        } catch (e) {
          if (!opts.force) throw e;
          ctx.log.warn({ err: e, snapshot: s.uuid }, 'could not delete the bits of a snapshot of a deleted volume; forgetting it');
        }
        if (s.charged > 0) await bus.call(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.releaseSpace, { primaryStorageUuid: s.primaryStorageUuid, charged: s.charged });
      }
      await db.deleteFrom('volume_snapshot').where('uuid', '=', s.uuid).execute();
      await tags.deleteForResources([s.uuid]);
      await extensions.callSafe(SnapshotLifecyclePoint, 'afterDelete', s);
    }
    await db.deleteFrom('volume_snapshot_tree').where('volumeUuid', '=', volumeUuid).execute();
  }

  const handlers = {
    async CreateVolumeSnapshot(msg: Message<ApiParams<typeof CreateVolumeSnapshot>>) {
      const p = msg.body;
      const uuid = p.resourceUuid ?? newUuid();
      if (p.resourceUuid && (await findRow(db, VolumeSnapshotInventory, uuid))) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `a volume snapshot with uuid ${uuid} already exists`);
      await queues.submit(volumeQueueOf(p.volumeUuid), async () => {
        const volume = await loadVolume(p.volumeUuid);
        if (volume.status !== 'Ready' || !volume.primaryStorageUuid || !volume.installPath) throw new StratoError(SysErrors.OPERATION_ERROR, `volume ${volume.uuid} is ${volume.status}; only a Ready volume can be snapshotted`);
        await extensions.callVeto(SnapshotLifecyclePoint, 'preCreate', volume);
        const ps = await loadPs(volume.primaryStorageUuid);
        backendFor(extensions, ps);
        const tree = await db.selectFrom('volume_snapshot_tree').select('uuid').where('volumeUuid', '=', volume.uuid).where('current', '=', true).executeTakeFirst();
        const latest = tree ? await db.selectFrom('volume_snapshot').selectAll().where('treeUuid', '=', tree.uuid).where('latest', '=', true).executeTakeFirst() : undefined;
        const parent = latest ? { ...bitsOf(latest as any), distance: Number(latest.distance), treeUuid: latest.treeUuid as string } : null;
        const flowCtx: CreateSnapshotCtx = { uuid, name: p.name, description: p.description, volume, ps, parent, treeUuid: (tree?.uuid as string | undefined) ?? newUuid(), newTree: !tree, systemTags: p.systemTags, userTags: p.userTags };
        await flowEngine.run(chains.create, flowCtx, { resourceUuid: volume.uuid });
      });
      const s = await view(uuid);
      await extensions.callSafe(SnapshotLifecyclePoint, 'afterCreate', s);
      return s;
    },

    UpdateVolumeSnapshot: (msg: Message<ApiParams<typeof UpdateVolumeSnapshot>>) => onVolumeOf(OnVolume.update, msg.body, () => loadSnapshot(msg.body.uuid)),
    DeleteVolumeSnapshot: (msg: Message<ApiParams<typeof DeleteVolumeSnapshot>>) => onVolumeOf(OnVolume.delete, msg.body, () => ({})),
    RevertVolumeFromSnapshot: (msg: Message<ApiParams<typeof RevertVolumeFromSnapshot>>) => onVolumeOf(OnVolume.revert, msg.body, () => loadSnapshot(msg.body.uuid)),

    async [OnVolume.update](msg: Message<ApiParams<typeof UpdateVolumeSnapshot>>) {
      const p = msg.body;
      const { volumeUuid } = await loadSnapshot(p.uuid);
      return queues.submit(volumeQueueOf(volumeUuid), () => patchRow(db, VolumeSnapshotInventory, p.uuid, { name: p.name, description: p.description }));
    },

    async [OnVolume.delete](msg: Message<{ uuid: string }>) {
      const row = await db.selectFrom('volume_snapshot').select('volumeUuid').where('uuid', '=', msg.body.uuid).executeTakeFirst();
      if (!row) return {};
      return queues.submit(volumeQueueOf(row.volumeUuid as string), async () => {
        if (!(await findRow(db, VolumeSnapshotInventory, msg.body.uuid))) return {};
        const s = await withCharge(msg.body.uuid);
        await extensions.callVeto(SnapshotLifecyclePoint, 'preDelete', s);
        const ps = await loadPs(s.primaryStorageUuid);
        const children = await db.selectFrom('volume_snapshot').select(['uuid', 'primaryStorageInstallPath', 'size']).where('parentUuid', '=', s.uuid).orderBy('createDate').orderBy('uuid').execute();
        const targets: DeleteSnapshotCtx['targets'] = children.map((c) => ({ uuid: c.uuid as string, installPath: c.primaryStorageInstallPath as string }));
        if (s.latest) {
          const volume = await loadVolume(s.volumeUuid);
          if (volume.installPath) targets.push({ uuid: volume.uuid, installPath: volume.installPath, volume: true });
        }
        const flowCtx: DeleteSnapshotCtx = { snapshot: s, ps, targets, descendants: await descendantsOf(s.uuid), extra: [], merged: 0 };
        await flowEngine.run(chains.delete, flowCtx, { resourceUuid: s.volumeUuid });
        await tags.deleteForResources([s.uuid]);
        await extensions.callSafe(SnapshotLifecyclePoint, 'afterDelete', s);
        return {};
      });
    },

    async [OnVolume.revert](msg: Message<{ uuid: string }>) {
      const { volumeUuid } = await loadSnapshot(msg.body.uuid);
      return queues.submit(volumeQueueOf(volumeUuid), async () => {
        const s = await withCharge(msg.body.uuid);
        const volume = await loadVolume(s.volumeUuid);
        if (volume.status !== 'Ready') throw new StratoError(SysErrors.OPERATION_ERROR, `volume ${volume.uuid} is ${volume.status}; only a Ready volume can be reverted`);
        // A volume attached to a VM: the VM service's preRevert requires the VM to be stopped.
        await extensions.callVeto(SnapshotLifecyclePoint, 'preRevert', s, volume);
        await flowEngine.run(chains.revert, { snapshot: s, volume, ps: await loadPs(s.primaryStorageUuid) }, { resourceUuid: volume.uuid });
        await extensions.callSafe(SnapshotLifecyclePoint, 'afterRevert', await view(s.uuid), volume);
        return {};
      });
    },

    async [VolumeSnapshotMessages.deleteForVolume](msg: Message<{ volumeUuid: string; force?: boolean }>) {
      return queues.submit(volumeQueueOf(msg.body.volumeUuid), async () => {
        await dropForVolume(msg.body.volumeUuid, { force: msg.body.force });
        return {};
      });
    },
  };

  async function descendantsOf(uuid: string): Promise<string[]> {
    const found: string[] = [];
    let frontier = [uuid];
    while (frontier.length > 0) {
      const next = (await db.selectFrom('volume_snapshot').select('uuid').where('parentUuid', 'in', frontier).execute()).map((r) => r.uuid as string);
      found.push(...next);
      frontier = next;
    }
    return found;
  }

  return { handlers, dropForVolume };
}
