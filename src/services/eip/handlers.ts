import { EipBackendPoint } from '../../contracts/eip.ts';
import { EipMessages, VipMessages, VipServiceTypes } from '../../contracts/vip.ts';
import type { ApiParams } from '../../core/api/define-api.ts';
import type { Message } from '../../core/bus/index.ts';
import type { CascadeEntry } from '../../core/cascade/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { findRow, loadInventory, patchRow, stateAfter } from '../../core/resource/resource-store.ts';
import { newUuid } from '../../core/util/uuid.ts';
import type { ChangeEipState, CreateEip, DeleteEip, UpdateEip } from './apis.ts';
import { createEipChain, type CreateEipCtx } from './flows/create-eip-chain.ts';
import { withNicLock } from './nic-attach.ts';
import { EipInventory } from './schema.ts';

export const eipQueue = (uuid: string) => `eip-${uuid}`;

export function eipHandlers(ctx: NodeContext) {
  const { db, queues, cascade, bus, tags } = ctx;

  return {
    async CreateEip(msg: Message<ApiParams<typeof CreateEip>>) {
      const p = msg.body;
      if (p.usedIpUuid && !(await db.selectFrom('used_ip').select('uuid').where('uuid', '=', p.usedIpUuid).executeTakeFirst())) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find UsedIp[uuid:${p.usedIpUuid}]`);
      if (p.usedIpUuid && !p.vmNicUuid) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, 'usedIpUuid needs vmNicUuid');
      if (p.vmNicUuid && !(await db.selectFrom('vm_nic').select('uuid').where('uuid', '=', p.vmNicUuid).executeTakeFirst())) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find VmNic[uuid:${p.vmNicUuid}]`);
      const uuid = p.resourceUuid ?? newUuid();
      if (p.resourceUuid && (await findRow(db, EipInventory, uuid))) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `an EIP with uuid ${uuid} already exists`);
      const flowCtx: CreateEipCtx = { uuid, name: p.name, description: p.description, vipUuid: p.vipUuid, vmNicUuid: p.vmNicUuid, usedIpUuid: p.usedIpUuid, systemTags: p.systemTags, userTags: p.userTags };
      const run = () => ctx.flowEngine.run(createEipChain, flowCtx, { resourceUuid: uuid });
      await queues.submit(eipQueue(uuid), () => (p.vmNicUuid ? withNicLock(ctx, p.vmNicUuid, run) : run()));
      if (p.vmNicUuid) {
        try {
          await ctx.extensions.callVeto(EipBackendPoint, 'afterAttached', { eipUuid: uuid, vmNicUuid: p.vmNicUuid });
        } catch (e) {
          // the backend could not realize it: the create fails whole (the VIP is given back)
          await ctx.extensions.callSafe(EipBackendPoint, 'beforeDetached', { eipUuid: uuid, vmNicUuid: p.vmNicUuid });
          await cascade.delete({ resource: 'EipVO', uuids: [uuid], mode: 'Enforcing' });
          throw e;
        }
      }
      return loadInventory(db, EipInventory, uuid);
    },

    async UpdateEip(msg: Message<ApiParams<typeof UpdateEip>>) {
      const p = msg.body;
      return queues.submit(eipQueue(p.uuid), () => patchRow(db, EipInventory, p.uuid, { name: p.name, description: p.description }));
    },

    async ChangeEipState(msg: Message<ApiParams<typeof ChangeEipState>>) {
      const p = msg.body;
      return queues.submit(eipQueue(p.uuid), async () => {
        const row = await findRow(db, EipInventory, p.uuid);
        const state = stateAfter(p.stateEvent);
        const nic = row?.vmNicUuid as string | null | undefined;
        // a disabled EIP maps nothing: its backends drop it, and realize it again when enabled
        if (row && nic && row.state !== state && state === 'Disabled') await ctx.extensions.callSafe(EipBackendPoint, 'beforeDetached', { eipUuid: p.uuid, vmNicUuid: nic });
        const inv = await patchRow(db, EipInventory, p.uuid, { state });
        if (row && nic && row.state !== state && state === 'Enabled') {
          try {
            await ctx.extensions.callVeto(EipBackendPoint, 'afterAttached', { eipUuid: p.uuid, vmNicUuid: nic });
          } catch (e) {
            await patchRow(db, EipInventory, p.uuid, { state: row.state });
            throw e;
          }
        }
        return inv;
      });
    },

    async DeleteEip(msg: Message<ApiParams<typeof DeleteEip>>) {
      const p = msg.body;
      if (!(await findRow(db, EipInventory, p.uuid))) return {};
      const mode = p.deleteMode ?? 'Permissive';
      const result = await cascade.delete({ resource: 'EipVO', uuids: [p.uuid], mode });
      if (result.errors.length && mode === 'Permissive') throw new StratoError(SysErrors.DELETE_RESOURCE_ERROR, `failed to delete EIP ${p.uuid}`, { cause: result.errors[0].error });
      return {};
    },

    /** `eip.Delete` (cascade): the row and tags, then the VIP is given back. */
    async [EipMessages.delete](msg: Message<{ uuid: string }>) {
      return queues.submit(eipQueue(msg.body.uuid), async () => {
        const row = await findRow(db, EipInventory, msg.body.uuid);
        if (!row) return {};
        if (row.vmNicUuid) await ctx.extensions.callSafe(EipBackendPoint, 'beforeDetached', { eipUuid: msg.body.uuid, vmNicUuid: row.vmNicUuid as string });
        await db.transaction().execute(async (tx) => {
          await tx.deleteFrom('eip').where('uuid', '=', msg.body.uuid).execute();
          await tags.deleteForResources([msg.body.uuid], tx);
        });
        await bus.call('vip', VipMessages.release, { vipUuid: row.vipUuid, serviceType: VipServiceTypes.eip, serviceUuid: msg.body.uuid }, { resourceUuid: row.vipUuid as string });
        return {};
      });
    },
  };
}

/** EIPs hang under their VIP: deleting the VIP (or its L3 network, zone, …) deletes them first. */
export function eipCascadeEntry(ctx: NodeContext): CascadeEntry {
  const { db, bus } = ctx;
  return {
    resource: 'EipVO',
    parents: ['VipVO'],
    async children(_parent, vipUuids) {
      return (await db.selectFrom('eip').select('uuid').where('vipUuid', 'in', vipUuids).execute()).map((r) => r.uuid as string);
    },
    async delete(uuids, { force }) {
      const results = await Promise.all(uuids.map((uuid) => bus.send('eip', EipMessages.delete, { uuid }, { resourceUuid: uuid })));
      const failed = results.find((r) => !r.success);
      if (failed && !failed.success && !force) throw new StratoError(failed.error);
    },
  };
}
