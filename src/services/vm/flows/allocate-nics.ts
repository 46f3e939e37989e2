import { randomBytes } from 'node:crypto';
import { L3NetworkMessages, type UsedIpView } from '../../../contracts/network.ts';
import type { CreateVmCtx, PlannedNic } from '../../../contracts/vm.ts';
import { isUniqueViolation } from '../../../core/db/index.ts';
import type { FlowStep } from '../../../core/flow/index.ts';
import { insertRow } from './hot-sql.ts';

/** A locally administered unicast MAC, as ZStack's `fa:` prefix; the unique index catches the rare repeat. */
export const randomMac = () => ['fa', ...[...randomBytes(5)].map((b) => b.toString(16).padStart(2, '0'))].join(':');

/**
 * One NIC per L3 network, in the order given: an IP from `l3.AllocateIp` (the `staticIp::` tag's address
 * when there is one), a unique MAC, the row. Rollback deletes the rows and gives the IPs back.
 */
export const allocateNics: FlowStep<CreateVmCtx> = {
  name: 'allocate-nics',
  async run(ctx, env) {
    const db = env.services.db!;
    const bus = env.services.bus!;
    for (const nic of ctx.nics) {
      const ip = await bus.call<UsedIpView>('l3Network', L3NetworkMessages.allocateIp, { l3NetworkUuid: nic.l3NetworkUuid, requiredIp: nic.staticIp, vmNicUuid: nic.uuid }, { resourceUuid: nic.l3NetworkUuid });
      Object.assign(nic, { usedIpUuid: ip.uuid, ip: ip.ip });
      await env.checkpoint();
      await insertNic(db, ctx.uuid, nic, ip);
    }
  },
  async rollback(ctx, env) {
    const db = env.services.db!;
    await db.deleteFrom('vm_nic').where('vmInstanceUuid', '=', ctx.uuid).execute();
    for (const nic of ctx.nics) {
      if (nic.usedIpUuid) await env.services.bus!.call('l3Network', L3NetworkMessages.releaseIp, { usedIpUuid: nic.usedIpUuid }, { resourceUuid: nic.l3NetworkUuid });
    }
  },
};

async function insertNic(db: import('kysely').Kysely<any>, vmUuid: string, nic: PlannedNic, ip: UsedIpView): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const mac = randomMac();
    const now = Date.now();
    try {
      await insertRow(db, 'vm_nic', {
        uuid: nic.uuid, vmInstanceUuid: vmUuid, l3NetworkUuid: nic.l3NetworkUuid, usedIpUuid: ip.uuid, ip: ip.ip, mac, netmask: ip.netmask, gateway: ip.gateway,
        deviceId: nic.deviceId, type: 'VNIC', internalName: `vnic${vmUuid.slice(0, 8)}.${nic.deviceId}`, createDate: now, lastOpDate: now,
      });
      nic.mac = mac;
      return;
    } catch (e) {
      if (!isUniqueViolation(e) || attempt >= 5) throw e;
    }
  }
}
