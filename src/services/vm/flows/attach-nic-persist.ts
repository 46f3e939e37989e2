import type { AttachNicCtx } from '../../../contracts/vm-nic.ts';
import { isUniqueViolation } from '../../../core/db/index.ts';
import { StratoError, SysErrors } from '../../../core/errors/index.ts';
import type { FlowStep } from '../../../core/flow/index.ts';
import { randomMac } from './allocate-nics.ts';

/**
 * The `vm_nic` row with a unique MAC (the unique index catches the rare repeat); a VM without a
 * default L3 network gets this one. Rollback removes the row and that default.
 */
export const attachNicPersist: FlowStep<AttachNicCtx> = {
  name: 'attach-nic-persist',
  async run(ctx, env) {
    const db = env.services.db!;
    const used = await db.selectFrom('used_ip').select(['netmask', 'gateway']).where('uuid', '=', ctx.usedIpUuid!).executeTakeFirst();
    if (!used) throw new StratoError(SysErrors.INTERNAL, `the IP ${ctx.ip} allocated for NIC ${ctx.nicUuid} is gone`);
    for (let attempt = 0; ; attempt++) {
      const mac = randomMac();
      const now = Date.now();
      try {
        await db.insertInto('vm_nic').values({
          uuid: ctx.nicUuid, vmInstanceUuid: ctx.vmUuid, l3NetworkUuid: ctx.l3NetworkUuid, usedIpUuid: ctx.usedIpUuid, ip: ctx.ip, mac, netmask: used.netmask, gateway: used.gateway,
          deviceId: ctx.deviceId, type: 'VNIC', internalName: `vnic${ctx.vmUuid.slice(0, 8)}.${ctx.deviceId}`, createDate: now, lastOpDate: now,
        }).execute();
        ctx.mac = mac;
        break;
      } catch (e) {
        if (!isUniqueViolation(e) || attempt >= 5) throw e;
      }
    }
    ctx.persisted = true;
    const vm = await db.selectFrom('vm_instance').select('defaultL3NetworkUuid').where('uuid', '=', ctx.vmUuid).executeTakeFirstOrThrow();
    if (!vm.defaultL3NetworkUuid) {
      ctx.becameDefault = true;
      await env.checkpoint();
      await db.updateTable('vm_instance').set({ defaultL3NetworkUuid: ctx.l3NetworkUuid, lastOpDate: Date.now() }).where('uuid', '=', ctx.vmUuid).execute();
    }
  },
  async rollback(ctx, env) {
    const db = env.services.db!;
    await db.deleteFrom('vm_nic').where('uuid', '=', ctx.nicUuid).execute();
    if (ctx.becameDefault) await db.updateTable('vm_instance').set({ defaultL3NetworkUuid: null }).where('uuid', '=', ctx.vmUuid).where('defaultL3NetworkUuid', '=', ctx.l3NetworkUuid).execute();
  },
};
