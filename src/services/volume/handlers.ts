import { PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages, type AllocateSpaceReply } from '../../contracts/primary-storage.ts';
import { VolumeLifecyclePoint, VolumeMessages, type InstantiateVolumeBody, type VolumeDeletionPolicy, type VolumeView } from '../../contracts/volume.ts';
import type { ApiParams } from '../../core/api/define-api.ts';
import type { Message } from '../../core/bus/index.ts';
import type { ConfigHandle } from '../../core/config/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { FlowChain } from '../../core/flow/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { findRow, loadInventory, patchRow, stateAfter } from '../../core/resource/resource-store.ts';
import { newUuid } from '../../core/util/uuid.ts';
import type { ChangeVolumeState, CreateDataVolume, DeleteDataVolume, ExpungeDataVolume, RecoverDataVolume, ResizeDataVolume, ResizeRootVolume, UpdateVolume } from './apis.ts';
import type { CreateDataVolumeCtx, InstantiateVolumeCtx } from './flows/volume-ctx.ts';
import { VolumeInventory } from './schema.ts';

export const volumeQueueOf = (uuid: string) => `volume-${uuid}`;

export interface VolumeHandlerDeps {
  chains: { instantiate: FlowChain<InstantiateVolumeCtx>; createData: FlowChain<CreateDataVolumeCtx> };
  deletionPolicy: ConfigHandle<string>;
}

export function volumeHandlers(ctx: NodeContext, deps: VolumeHandlerDeps) {
  const { db, queues, extensions, bus, tags, flowEngine } = ctx;
  const load = async (uuid: string) => (await loadInventory(db, VolumeInventory, uuid)) as VolumeView & Record<string, unknown>;
  const chargedOf = async (uuid: string) => Number((await db.selectFrom('volume').select('charged').where('uuid', '=', uuid).executeTakeFirst())?.charged ?? 0);

  function mustBeData(v: VolumeView): void {
    if (v.type !== 'Data') throw new StratoError(SysErrors.OPERATION_ERROR, `volume ${v.uuid} is a ${v.type} volume, not a data volume`);
  }

  /**
   * Grows the volume: the growth is reserved on its storage first and given back if the storage fails.
   * On a running VM the host grows the disk under the guest (the agent's resize goes through QEMU), so
   * the VM must be Running or Stopped, not between states; the caller holds the volume's queue.
   */
  async function grow(v: VolumeView & Record<string, unknown>, size: number) {
    if (v.status === 'Deleted') throw new StratoError(SysErrors.OPERATION_ERROR, `volume ${v.uuid} is Deleted`);
    if (size <= v.size) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `volume ${v.uuid} is ${v.size} bytes; it can only grow, not to ${size}`);
    if (v.vmInstanceUuid) {
      const vm = await db.selectFrom('vm_instance').select('state').where('uuid', '=', v.vmInstanceUuid).executeTakeFirst();
      if (vm && vm.state !== 'Running' && vm.state !== 'Stopped') {
        throw new StratoError(SysErrors.OPERATION_ERROR, `volume ${v.uuid} can be resized while its VM ${v.vmInstanceUuid} is Running or Stopped; it is ${String(vm.state)}`);
      }
    }
    if (v.status === 'NotInstantiated' || !v.primaryStorageUuid || !v.installPath) return patchRow(db, VolumeInventory, v.uuid, { size });
    const growth = await bus.call<AllocateSpaceReply>(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.allocateSpace, { size: size - v.size, primaryStorageUuid: v.primaryStorageUuid });
    let resized: { size: number; actualSize: number };
    try {
      resized = await bus.call(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.resizeVolume, { primaryStorageUuid: v.primaryStorageUuid, volumeUuid: v.uuid, installPath: v.installPath, size });
    } catch (e) {
      await bus.call(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.releaseSpace, { primaryStorageUuid: v.primaryStorageUuid, charged: growth.charged });
      throw e;
    }
    return patchRow(db, VolumeInventory, v.uuid, { size: resized.size, actualSize: resized.actualSize, charged: (await chargedOf(v.uuid)) + growth.charged });
  }

  /** Bits, capacity, row and tags; the caller holds the volume's queue. */
  async function expunge(v: VolumeView, force = false): Promise<void> {
    if (v.primaryStorageUuid && v.installPath) {
      try {
        await bus.call(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.deleteVolume, { primaryStorageUuid: v.primaryStorageUuid, volumeUuid: v.uuid, installPath: v.installPath });
      } catch (e) {
        if (!force) throw e;
      }
    }
    if (v.primaryStorageUuid) await bus.call(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.releaseSpace, { primaryStorageUuid: v.primaryStorageUuid, charged: await chargedOf(v.uuid) });
    await db.deleteFrom('volume').where('uuid', '=', v.uuid).execute();
    await tags.deleteForResources([v.uuid]);
    await extensions.callSafe(VolumeLifecyclePoint, 'afterExpunge', v);
  }

  return {
    async CreateDataVolume(msg: Message<ApiParams<typeof CreateDataVolume>>) {
      const p = msg.body;
      let size = p.diskSize ?? 0;
      if (p.diskOfferingUuid) {
        const offering = await db.selectFrom('disk_offering').select(['diskSize', 'state']).where('uuid', '=', p.diskOfferingUuid).executeTakeFirst();
        if (!offering) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find DiskOffering[uuid:${p.diskOfferingUuid}]`);
        if (offering.state !== 'Enabled') throw new StratoError(SysErrors.OPERATION_ERROR, `disk offering ${p.diskOfferingUuid} is ${String(offering.state)}`);
        size = Number(offering.diskSize);
      }
      if (p.primaryStorageUuid && !(await db.selectFrom('primary_storage').select('uuid').where('uuid', '=', p.primaryStorageUuid).executeTakeFirst())) {
        throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find PrimaryStorage[uuid:${p.primaryStorageUuid}]`);
      }
      if (!(size > 0)) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, 'a data volume needs a diskOfferingUuid or a positive diskSize');
      const uuid = p.resourceUuid ?? newUuid();
      if (p.resourceUuid && (await findRow(db, VolumeInventory, uuid))) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `a volume with uuid ${uuid} already exists`);
      const flowCtx: CreateDataVolumeCtx = { uuid, name: p.name, description: p.description, diskOfferingUuid: p.diskOfferingUuid, size, primaryStorageUuid: p.primaryStorageUuid, systemTags: p.systemTags, userTags: p.userTags };
      await queues.submit(volumeQueueOf(uuid), () => flowEngine.run(deps.chains.createData, flowCtx, { resourceUuid: uuid }));
      const v = await load(uuid);
      await extensions.callSafe(VolumeLifecyclePoint, 'afterCreate', v);
      return v;
    },

    async [VolumeMessages.instantiate](msg: Message<InstantiateVolumeBody>) {
      const p = msg.body;
      return queues.submit(volumeQueueOf(p.uuid), async () => {
        const v = await load(p.uuid);
        if (v.status === 'Ready') return v;
        if (v.status !== 'NotInstantiated') throw new StratoError(SysErrors.OPERATION_ERROR, `volume ${v.uuid} is ${v.status}`);
        if (!p.primaryStorageUuid && !p.clusterUuid) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, 'instantiating a volume needs a primaryStorageUuid or a clusterUuid');
        await flowEngine.run(deps.chains.instantiate, { uuid: v.uuid, size: v.size, format: v.format ?? undefined, primaryStorageUuid: p.primaryStorageUuid, clusterUuid: p.clusterUuid, hostUuid: p.hostUuid }, { resourceUuid: v.uuid });
        const ready = await load(p.uuid);
        await extensions.callSafe(VolumeLifecyclePoint, 'afterInstantiate', ready);
        return ready;
      });
    },

    async DeleteDataVolume(msg: Message<ApiParams<typeof DeleteDataVolume>>) {
      const p = msg.body;
      return queues.submit(volumeQueueOf(p.uuid), async () => {
        if (!(await findRow(db, VolumeInventory, p.uuid))) return {};
        const v = await load(p.uuid);
        mustBeData(v);
        if (v.status === 'Deleted') return {};
        if (v.vmInstanceUuid) throw new StratoError(SysErrors.OPERATION_ERROR, `volume ${v.uuid} is attached to VM ${v.vmInstanceUuid}; detach it first`);
        await extensions.callVeto(VolumeLifecyclePoint, 'preDelete', v);
        const policy = deps.deletionPolicy.get() as VolumeDeletionPolicy;
        if (policy === 'Direct') await expunge(v);
        else if (policy === 'Never') {
          // The bits (and the space they hold) stay on the storage; only the record goes.
          await db.deleteFrom('volume').where('uuid', '=', v.uuid).execute();
          await tags.deleteForResources([v.uuid]);
        } else await patchRow(db, VolumeInventory, v.uuid, { status: 'Deleted' });
        await extensions.callSafe(VolumeLifecyclePoint, 'afterDelete', v);
        return {};
      });
    },

    async RecoverDataVolume(msg: Message<ApiParams<typeof RecoverDataVolume>>) {
      const p = msg.body;
      return queues.submit(volumeQueueOf(p.uuid), async () => {
        const v = await load(p.uuid);
        if (v.status !== 'Deleted') throw new StratoError(SysErrors.OPERATION_ERROR, `volume ${v.uuid} is ${v.status}, not Deleted`);
        return patchRow(db, VolumeInventory, v.uuid, { status: v.installPath ? 'Ready' : 'NotInstantiated' });
      });
    },

    async ExpungeDataVolume(msg: Message<ApiParams<typeof ExpungeDataVolume>>) {
      const p = msg.body;
      return queues.submit(volumeQueueOf(p.uuid), async () => {
        const v = await load(p.uuid);
        mustBeData(v);
        if (v.status !== 'Deleted') throw new StratoError(SysErrors.OPERATION_ERROR, `volume ${v.uuid} is ${v.status}; delete it before expunging`);
        await expunge(v);
        return {};
      });
    },

    async [VolumeMessages.expunge](msg: Message<{ uuid: string; force?: boolean }>) {
      return queues.submit(volumeQueueOf(msg.body.uuid), async () => {
        if (!(await findRow(db, VolumeInventory, msg.body.uuid))) return {};
        await expunge(await load(msg.body.uuid), msg.body.force ?? false);
        return {};
      });
    },

    async UpdateVolume(msg: Message<ApiParams<typeof UpdateVolume>>) {
      const p = msg.body;
      return queues.submit(volumeQueueOf(p.uuid), () => patchRow(db, VolumeInventory, p.uuid, { name: p.name, description: p.description }));
    },

    async ChangeVolumeState(msg: Message<ApiParams<typeof ChangeVolumeState>>) {
      const p = msg.body;
      return queues.submit(volumeQueueOf(p.uuid), () => patchRow(db, VolumeInventory, p.uuid, { state: stateAfter(p.stateEvent) }));
    },

    async ResizeDataVolume(msg: Message<ApiParams<typeof ResizeDataVolume>>) {
      return queues.submit(volumeQueueOf(msg.body.uuid), async () => {
        const v = await load(msg.body.uuid);
        mustBeData(v);
        return grow(v, msg.body.size);
      });
    },

    async ResizeRootVolume(msg: Message<ApiParams<typeof ResizeRootVolume>>) {
      return queues.submit(volumeQueueOf(msg.body.uuid), async () => {
        const v = await load(msg.body.uuid);
        if (v.type !== 'Root') throw new StratoError(SysErrors.OPERATION_ERROR, `volume ${v.uuid} is a ${v.type} volume, not a root volume; use ResizeDataVolume`);
        return grow(v, msg.body.size);
      });
    },
  };
}
