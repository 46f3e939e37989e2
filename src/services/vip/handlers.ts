import { L3NetworkMessages } from '../../contracts/network.ts';
import { VipErrors, VipLifecyclePoint, VipMessages, VipServiceTypes, type AcquireVipRequest, type CreateVipCtx, type ReleaseVipRequest, type VipView } from '../../contracts/vip.ts';
import type { ApiParams } from '../../core/api/define-api.ts';
import type { Message } from '../../core/bus/index.ts';
import type { CascadeEntry } from '../../core/cascade/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { findRow, loadInventory, notFound, patchRow, stateAfter } from '../../core/resource/resource-store.ts';
import { newUuid } from '../../core/util/uuid.ts';
import type { ChangeVipState, CreateVip, DeleteVip, UpdateVip } from './apis.ts';
import { createVipChain } from './flows/create-vip-chain.ts';
import { VipInventory } from './schema.ts';

export const vipQueue = (uuid: string) => `vip-${uuid}`;

export function vipHandlers(ctx: NodeContext) {
  const { db, queues, cascade, extensions } = ctx;
  const load = (uuid: string) => loadInventory(db, VipInventory, uuid);

  /** `useFor` shows the service types holding the VIP, as ZStack's does. */
  async function refreshUseFor(vipUuid: string): Promise<void> {
    const types = [...new Set((await db.selectFrom('vip_network_services_ref').select('serviceType').where('vipUuid', '=', vipUuid).execute()).map((r) => r.serviceType as string))].sort();
    await db.updateTable('vip').set({ useFor: types.length ? types.join(',') : null, lastOpDate: Date.now() }).where('uuid', '=', vipUuid).execute();
  }

  return {
    async CreateVip(msg: Message<ApiParams<typeof CreateVip>>) {
      const p = msg.body;
      const uuid = p.resourceUuid ?? newUuid();
      if (p.resourceUuid && (await findRow(db, VipInventory, uuid))) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `a VIP with uuid ${uuid} already exists`);
      const flowCtx: CreateVipCtx = { uuid, name: p.name, description: p.description, l3NetworkUuid: p.l3NetworkUuid, requiredIp: p.requiredIp, ipRangeUuid: p.ipRangeUuid, allocatorStrategy: p.allocatorStrategy, systemTags: p.systemTags, userTags: p.userTags };
      // In the L3 network's queue: never created into an L3 network being deleted.
      await queues.submit(`l3-${p.l3NetworkUuid}`, () => ctx.flowEngine.run(createVipChain, flowCtx, { resourceUuid: uuid }));
      const vip = await load(uuid);
      await extensions.callSafe(VipLifecyclePoint, 'afterCreate', vip as VipView);
      return vip;
    },

    async UpdateVip(msg: Message<ApiParams<typeof UpdateVip>>) {
      const p = msg.body;
      return queues.submit(vipQueue(p.uuid), () => patchRow(db, VipInventory, p.uuid, { name: p.name, description: p.description }));
    },

    async ChangeVipState(msg: Message<ApiParams<typeof ChangeVipState>>) {
      const p = msg.body;
      return queues.submit(vipQueue(p.uuid), () => patchRow(db, VipInventory, p.uuid, { state: stateAfter(p.stateEvent) }));
    },

    async DeleteVip(msg: Message<ApiParams<typeof DeleteVip>>) {
      const p = msg.body;
      if (!(await findRow(db, VipInventory, p.uuid))) return {};
      const mode = p.deleteMode ?? 'Permissive';
      const result = await cascade.delete({ resource: 'VipVO', uuids: [p.uuid], mode });
      if (result.errors.length && mode === 'Permissive') throw new StratoError(SysErrors.DELETE_RESOURCE_ERROR, `failed to delete VIP ${p.uuid}`, { cause: result.errors[0].error });
      return {};
    },

    async [VipMessages.acquire](msg: Message<AcquireVipRequest>) {
      const b = msg.body;
      return queues.submit(vipQueue(b.vipUuid), async () => {
        const vip = await findRow(db, VipInventory, b.vipUuid);
        if (!vip) throw notFound(VipInventory, b.vipUuid);
        if (vip.state !== 'Enabled') throw new StratoError(SysErrors.OPERATION_ERROR, `vip[uuid:${b.vipUuid}] is not in state[Enabled], current state is ${vip.state}`);
        if (vip.system === true || vip.system === 1) throw new StratoError(SysErrors.OPERATION_ERROR, `the system vip[uuid:${b.vipUuid}] cannot be used by ${b.serviceType}`);
        const refs = await db.selectFrom('vip_network_services_ref').select(['uuid', 'serviceType']).where('vipUuid', '=', b.vipUuid).execute();
        if (refs.some((r) => r.uuid === b.serviceUuid && r.serviceType === b.serviceType)) return load(b.vipUuid);
        // An EIP takes the whole address: nothing else may share it, and it shares with nothing.
        const eipHeld = refs.some((r) => r.serviceType === VipServiceTypes.eip);
        if (eipHeld || (b.serviceType === VipServiceTypes.eip && refs.length)) {
          throw new StratoError(VipErrors.IN_USE, `vip[uuid:${b.vipUuid}] has been occupied by other network service entities [${refs.map((r) => `${r.serviceType}:${r.uuid}`).join(', ')}]`);
        }
        const now = Date.now();
        await db.insertInto('vip_network_services_ref').values({ id: newUuid(), uuid: b.serviceUuid, serviceType: b.serviceType, vipUuid: b.vipUuid, createDate: now, lastOpDate: now }).execute();
        await refreshUseFor(b.vipUuid);
        return load(b.vipUuid);
      });
    },

    async [VipMessages.release](msg: Message<ReleaseVipRequest>) {
      const b = msg.body;
      return queues.submit(vipQueue(b.vipUuid), async () => {
        const r = await db.deleteFrom('vip_network_services_ref').where('vipUuid', '=', b.vipUuid).where('serviceType', '=', b.serviceType).where('uuid', '=', b.serviceUuid).executeTakeFirst();
        if (Number(r.numDeletedRows) > 0) await refreshUseFor(b.vipUuid);
        return {};
      });
    },

    /** `vip.Delete` (cascade): the row, its refs and tags, then its address goes back to the IPAM. */
    async [VipMessages.delete](msg: Message<{ uuid: string }>) {
      return queues.submit(vipQueue(msg.body.uuid), async () => {
        const row = await findRow(db, VipInventory, msg.body.uuid);
        if (!row) return {};
        const vip = (await load(msg.body.uuid)) as VipView;
        await db.transaction().execute(async (tx) => {
          await tx.deleteFrom('vip_network_services_ref').where('vipUuid', '=', vip.uuid).execute();
          await tx.deleteFrom('vip').where('uuid', '=', vip.uuid).execute();
          await ctx.tags.deleteForResources([vip.uuid], tx);
        });
        await ctx.bus.call('l3Network', L3NetworkMessages.releaseIp, { usedIpUuid: vip.usedIpUuid }, { resourceUuid: vip.l3NetworkUuid });
        await extensions.callSafe(VipLifecyclePoint, 'afterDelete', vip);
        return {};
      });
    },
  };
}

/** VIPs hang under their L3 network; services using a VIP (EIPs) hang under it and go first. */
export function vipCascadeEntry(ctx: NodeContext): CascadeEntry {
  const { db, bus } = ctx;
  return {
    resource: 'VipVO',
    parents: ['L3NetworkVO'],
    async children(_parent, l3Uuids) {
      return (await db.selectFrom('vip').select('uuid').where('l3NetworkUuid', 'in', l3Uuids).execute()).map((r) => r.uuid as string);
    },
    async delete(uuids, { force }) {
      const results = await Promise.all(uuids.map((uuid) => bus.send('vip', VipMessages.delete, { uuid }, { resourceUuid: uuid })));
      const failed = results.find((r) => !r.success);
      if (failed && !failed.success && !force) throw new StratoError(failed.error);
    },
  };
}
