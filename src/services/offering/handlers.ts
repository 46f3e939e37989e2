import {
  DEFAULT_DISK_ALLOCATION_STRATEGY, DEFAULT_HOST_ALLOCATOR_STRATEGY, OfferingEvents, OfferingLifecyclePoint,
  type CreateDiskOfferingCtx, type CreateInstanceOfferingCtx, type DiskOfferingView, type InstanceOfferingView,
} from '../../contracts/offering.ts';
import type { ApiParams } from '../../core/api/define-api.ts';
import type { Message } from '../../core/bus/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import type { NormalizedInventoryDef } from '../../core/query/inventory.ts';
import { findRow, loadInventory, patchRow, stateAfter } from '../../core/resource/resource-store.ts';
import { newUuid } from '../../core/util/uuid.ts';
import type {
  ChangeDiskOfferingState, ChangeInstanceOfferingState, CreateDiskOffering, CreateInstanceOffering, DeleteDiskOffering, DeleteInstanceOffering, UpdateDiskOffering, UpdateInstanceOffering,
} from './apis.ts';
import { createDiskOfferingChain } from './flows/create-disk-offering-chain.ts';
import { createInstanceOfferingChain } from './flows/create-instance-offering-chain.ts';
import { DiskOfferingInventory, InstanceOfferingInventory } from './schema.ts';

/** One queue per offering: an update never races a delete of the same offering. */
const queueOf = (uuid: string) => `offering-${uuid}`;

export function offeringHandlers(ctx: NodeContext) {
  const { db, queues, extensions, bus, tags } = ctx;

  async function refuseTakenUuid(inv: NormalizedInventoryDef, uuid: string | undefined) {
    if (uuid && (await findRow(db, inv, uuid))) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `a ${inv.resourceType.replace(/VO$/, '')} with uuid ${uuid} already exists`);
  }

  /** Deleting what does not exist succeeds, as in ZStack (successIfResourceNotExisting). */
  async function deleteOffering<V>(inv: NormalizedInventoryDef, uuid: string, pre: 'preDeleteInstanceOffering' | 'preDeleteDiskOffering', after: 'afterDeleteInstanceOffering' | 'afterDeleteDiskOffering', event: string) {
    return queues.submit(queueOf(uuid), async () => {
      const row = await findRow(db, inv, uuid);
      if (!row) return {};
      const view = (await loadInventory(db, inv, uuid)) as V;
      await extensions.callVeto(OfferingLifecyclePoint, pre, view as any);
      await db.deleteFrom(inv.table).where('uuid', '=', uuid).execute();
      await tags.deleteForResources([uuid]);
      await extensions.callSafe(OfferingLifecyclePoint, after, view as any);
      void bus.publish(event, { uuid });
      return {};
    });
  }

  return {
    async CreateInstanceOffering(msg: Message<ApiParams<typeof CreateInstanceOffering>>) {
      const p = msg.body;
      const uuid = p.resourceUuid ?? newUuid();
      await refuseTakenUuid(InstanceOfferingInventory, p.resourceUuid);
      const reserved = p.reservedMemorySize ?? 0;
      if (reserved > p.memorySize) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `reservedMemorySize ${reserved} is larger than memorySize ${p.memorySize}`);
      const flowCtx: CreateInstanceOfferingCtx = {
        uuid, name: p.name, description: p.description, cpuNum: p.cpuNum, cpuSpeed: p.cpuSpeed ?? 0, memorySize: p.memorySize, reservedMemorySize: reserved,
        allocatorStrategy: p.allocatorStrategy ?? DEFAULT_HOST_ALLOCATOR_STRATEGY, sortKey: p.sortKey ?? 0, type: p.type ?? 'UserVm', systemTags: p.systemTags, userTags: p.userTags,
      };
      await queues.submit(queueOf(uuid), () => ctx.flowEngine.run(createInstanceOfferingChain, flowCtx, { resourceUuid: uuid }));
      return loadInventory(db, InstanceOfferingInventory, uuid);
    },

    async UpdateInstanceOffering(msg: Message<ApiParams<typeof UpdateInstanceOffering>>) {
      const p = msg.body;
      return queues.submit(queueOf(p.uuid), () => patchRow(db, InstanceOfferingInventory, p.uuid, { name: p.name, description: p.description, allocatorStrategy: p.allocatorStrategy }));
    },

    async ChangeInstanceOfferingState(msg: Message<ApiParams<typeof ChangeInstanceOfferingState>>) {
      const p = msg.body;
      return queues.submit(queueOf(p.uuid), () => patchRow(db, InstanceOfferingInventory, p.uuid, { state: stateAfter(p.stateEvent) }));
    },

    async DeleteInstanceOffering(msg: Message<ApiParams<typeof DeleteInstanceOffering>>) {
      return deleteOffering<InstanceOfferingView>(InstanceOfferingInventory, msg.body.uuid, 'preDeleteInstanceOffering', 'afterDeleteInstanceOffering', OfferingEvents.instanceOfferingDeleted);
    },

    async CreateDiskOffering(msg: Message<ApiParams<typeof CreateDiskOffering>>) {
      const p = msg.body;
      const uuid = p.resourceUuid ?? newUuid();
      await refuseTakenUuid(DiskOfferingInventory, p.resourceUuid);
      const flowCtx: CreateDiskOfferingCtx = {
        uuid, name: p.name, description: p.description, diskSize: p.diskSize, sortKey: p.sortKey ?? 0,
        allocatorStrategy: p.allocationStrategy ?? DEFAULT_DISK_ALLOCATION_STRATEGY, type: p.type ?? 'zstack', systemTags: p.systemTags, userTags: p.userTags,
      };
      await queues.submit(queueOf(uuid), () => ctx.flowEngine.run(createDiskOfferingChain, flowCtx, { resourceUuid: uuid }));
      return loadInventory(db, DiskOfferingInventory, uuid);
    },

    async UpdateDiskOffering(msg: Message<ApiParams<typeof UpdateDiskOffering>>) {
      const p = msg.body;
      return queues.submit(queueOf(p.uuid), () => patchRow(db, DiskOfferingInventory, p.uuid, { name: p.name, description: p.description }));
    },

    async ChangeDiskOfferingState(msg: Message<ApiParams<typeof ChangeDiskOfferingState>>) {
      const p = msg.body;
      return queues.submit(queueOf(p.uuid), () => patchRow(db, DiskOfferingInventory, p.uuid, { state: stateAfter(p.stateEvent) }));
    },

    async DeleteDiskOffering(msg: Message<ApiParams<typeof DeleteDiskOffering>>) {
      return deleteOffering<DiskOfferingView>(DiskOfferingInventory, msg.body.uuid, 'preDeleteDiskOffering', 'afterDeleteDiskOffering', OfferingEvents.diskOfferingDeleted);
    },
  };
}
