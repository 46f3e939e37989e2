import type { Kysely } from 'kysely';
import { EipBackendPoint } from '../../contracts/eip.ts';
import { VmNicLifecyclePoint } from '../../contracts/vm-nic.ts';
import type { ApiParams } from '../../core/api/define-api.ts';
import type { Message } from '../../core/bus/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { findRow, loadInventory, notFound } from '../../core/resource/resource-store.ts';
import type { AttachEip, DetachEip } from './nic-apis.ts';
import { EipInventory } from './schema.ts';

/** Internal: detach one EIP from its NIC (the NIC is going), in the EIP's queue on its owner. */
export const DETACH_NIC_MESSAGE = 'eip.DetachNic';

const eipQueue = (uuid: string) => `eip-${uuid}`;
/** Attaches to one NIC run one at a time: "one EIP per public L3 network" is checked and written without a race. */
const nicQueue = (uuid: string) => `eip-nic-${uuid}`;

/**
 * What attaching `eipUuid`'s VIP to the NIC would write (ZStack's EipApiInterceptor checks): the NIC
 * exists and its VM is Running or Stopped, its L3 network is not the VIP's, it has no other EIP from
 * the VIP's L3 network, and `usedIpUuid` (when given) is the NIC's own address.
 */
export async function checkNicAttachable(db: Kysely<any>, eip: { uuid: string; vipUuid: string; vmNicUuid?: string | null }, vmNicUuid: string, usedIpUuid?: string): Promise<{ vmNicUuid: string; guestIp: string }> {
  const nic = await db.selectFrom('vm_nic').select(['uuid', 'vmInstanceUuid', 'l3NetworkUuid', 'usedIpUuid', 'ip']).where('uuid', '=', vmNicUuid).executeTakeFirst();
  if (!nic) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find VmNic[uuid:${vmNicUuid}]`);
  if (usedIpUuid && usedIpUuid !== nic.usedIpUuid) {
    if (!(await db.selectFrom('used_ip').select('uuid').where('uuid', '=', usedIpUuid).executeTakeFirst())) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find UsedIp[uuid:${usedIpUuid}]`);
    throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `Ip address [uuid:${usedIpUuid}] is not belonged to nic [uuid:${vmNicUuid}]`);
  }
  if (eip.vmNicUuid) throw new StratoError(SysErrors.OPERATION_ERROR, `eip[uuid:${eip.uuid}] has attached to another vm nic[uuid:${eip.vmNicUuid}], can't attach again`);
  const vm = await db.selectFrom('vm_instance').select(['state']).where('uuid', '=', nic.vmInstanceUuid).executeTakeFirst();
  if (!vm || !['Running', 'Stopped'].includes(vm.state as string)) throw new StratoError(SysErrors.OPERATION_ERROR, `the VM[uuid:${String(nic.vmInstanceUuid)}] of vm nic[uuid:${vmNicUuid}] is ${String(vm?.state ?? 'gone')}; an EIP attaches to a Running or Stopped VM`);
  const vip = await db.selectFrom('vip').select(['uuid', 'l3NetworkUuid']).where('uuid', '=', eip.vipUuid).executeTakeFirstOrThrow();
  if (vip.l3NetworkUuid === nic.l3NetworkUuid) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `guest l3Network of vm nic[uuid:${vmNicUuid}] and vip l3Network of EIP[uuid:${eip.uuid}] are the same network`);
  const other = await db.selectFrom('eip').innerJoin('vip', 'vip.uuid', 'eip.vipUuid').select('eip.uuid as uuid')
    .where('eip.vmNicUuid', '=', vmNicUuid).where('vip.l3NetworkUuid', '=', vip.l3NetworkUuid).where('eip.uuid', '!=', eip.uuid).executeTakeFirst();
  if (other) throw new StratoError(SysErrors.OPERATION_ERROR, `vm nic[uuid:${vmNicUuid}] already has the EIP[uuid:${String(other.uuid)}] from the public L3 network[uuid:${String(vip.l3NetworkUuid)}]; a NIC holds one EIP per public L3 network`);
  return { vmNicUuid, guestIp: nic.ip as string };
}

/** Runs `task` with the NIC's attach lock (a queue of its own, only ever entered from inside an EIP's queue). */
export const withNicLock = <T>(ctx: NodeContext, vmNicUuid: string, task: () => Promise<T>) => ctx.queues.submit(nicQueue(vmNicUuid), task);

/** AttachEip, DetachEip, and the detach the NIC observer asks for. */
export function eipNicHandlers(ctx: NodeContext) {
  const { db, queues } = ctx;
  const setNic = (uuid: string, vmNicUuid: string | null, guestIp: string | null) => db.updateTable('eip').set({ vmNicUuid, guestIp, lastOpDate: Date.now() }).where('uuid', '=', uuid).execute();

  return {
    async AttachEip(msg: Message<ApiParams<typeof AttachEip>>) {
      const p = msg.body;
      return queues.submit(eipQueue(p.eipUuid), async () => {
        const eip = await findRow(db, EipInventory, p.eipUuid);
        if (!eip) throw notFound(EipInventory, p.eipUuid);
        if (eip.state !== 'Enabled') throw new StratoError(SysErrors.OPERATION_ERROR, `eip[uuid: ${p.eipUuid}] can only be attached when state is Enabled, current state is ${String(eip.state)}`);
        await withNicLock(ctx, p.vmNicUuid, async () => {
          const target = await checkNicAttachable(db, eip as any, p.vmNicUuid, p.usedIpUuid);
          await setNic(p.eipUuid, target.vmNicUuid, target.guestIp);
          try {
            await ctx.extensions.callVeto(EipBackendPoint, 'afterAttached', { eipUuid: p.eipUuid, vmNicUuid: target.vmNicUuid });
          } catch (e) {
            // not realized on the VM's host: the attach does not happen
            await ctx.extensions.callSafe(EipBackendPoint, 'beforeDetached', { eipUuid: p.eipUuid, vmNicUuid: target.vmNicUuid });
            await setNic(p.eipUuid, null, null);
            throw e;
          }
        });
        return loadInventory(db, EipInventory, p.eipUuid);
      });
    },

    async DetachEip(msg: Message<ApiParams<typeof DetachEip>>) {
      const p = msg.body;
      return queues.submit(eipQueue(p.uuid), async () => {
        const eip = await findRow(db, EipInventory, p.uuid);
        if (!eip) throw notFound(EipInventory, p.uuid);
        if (!eip.vmNicUuid) throw new StratoError(SysErrors.OPERATION_ERROR, `eip[uuid:${p.uuid}] has not attached to any vm nic`);
        await ctx.extensions.callSafe(EipBackendPoint, 'beforeDetached', { eipUuid: p.uuid, vmNicUuid: eip.vmNicUuid as string });
        await setNic(p.uuid, null, null);
        return loadInventory(db, EipInventory, p.uuid);
      });
    },

    async [DETACH_NIC_MESSAGE](msg: Message<{ uuid: string; vmNicUuid: string }>) {
      return queues.submit(eipQueue(msg.body.uuid), async () => {
        const row = await findRow(db, EipInventory, msg.body.uuid);
        if (row?.vmNicUuid === msg.body.vmNicUuid) await ctx.extensions.callSafe(EipBackendPoint, 'beforeDetached', { eipUuid: msg.body.uuid, vmNicUuid: msg.body.vmNicUuid });
        await db.updateTable('eip').set({ vmNicUuid: null, guestIp: null, lastOpDate: Date.now() }).where('uuid', '=', msg.body.uuid).where('vmNicUuid', '=', msg.body.vmNicUuid).execute();
        return {};
      });
    },
  };
}

/** EIPs let go of NICs that are detached or expunged (ZStack detaches the EIP and keeps it). */
export function registerEipNicObserver(ctx: NodeContext): void {
  ctx.extensions.registerObserver(VmNicLifecyclePoint, {
    async beforeNicsDeleted(nics) {
      const rows = await ctx.db.selectFrom('eip').select(['uuid', 'vmNicUuid']).where('vmNicUuid', 'in', nics.map((n) => n.uuid)).execute();
      for (const r of rows) await ctx.bus.call('eip', DETACH_NIC_MESSAGE, { uuid: r.uuid, vmNicUuid: r.vmNicUuid }, { resourceUuid: r.uuid as string });
    },
  }, { by: 'eip' });
}
