import { L3NetworkMessages, type AllocateIpRequest, type ReleaseIpRequest } from '../../contracts/network.ts';
import type { ApiParams } from '../../core/api/define-api.ts';
import type { Message } from '../../core/bus/index.ts';
import { readCache } from '../../core/db/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { findRow } from '../../core/resource/resource-store.ts';
import type { CheckIpAvailability, GetFreeIpOfL3Network } from './apis.ts';
import { l3NotFound } from './handlers.ts';
import { allocateIp, forgetDenseHints, freeIps, rangesOf } from './ipam.ts';
import { ipToLong, isIpv4 } from './ipv4.ts';
import { IpRangeInventory, L3NetworkInventory } from './schema.ts';

/** `l3.AllocateIp` / `l3.ReleaseIp` for other services (VM NICs, VIPs) and the read APIs over the IPAM. */
export function ipamHandlers(ctx: NodeContext) {
  const { db } = ctx;
  const requireL3 = async (uuid: string) => {
    if (!(await findRow(db, L3NetworkInventory, uuid))) throw l3NotFound(uuid);
  };

  return {
    async [L3NetworkMessages.allocateIp](msg: Message<AllocateIpRequest>) {
      // Every NIC made asks here: whether the L3 exists comes from the read cache (fresh after any write to l3_network).
      const uuid = msg.body.l3NetworkUuid;
      if (!(await readCache(db).get(`l3.exists:${uuid}`, ['l3_network'], async () => Boolean(await findRow(db, L3NetworkInventory, uuid))))) throw l3NotFound(uuid);
      return allocateIp(db, msg.body);
    },

    async [L3NetworkMessages.releaseIp](msg: Message<ReleaseIpRequest>) {
      const b = msg.body;
      if (b.usedIpUuid) await db.deleteFrom('used_ip').where('uuid', '=', b.usedIpUuid).execute();
      else if (b.l3NetworkUuid && b.ip && isIpv4(b.ip)) await db.deleteFrom('used_ip').where('l3NetworkUuid', '=', b.l3NetworkUuid).where('ipInLong', '=', ipToLong(b.ip)).execute();
      else throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, 'l3.ReleaseIp needs usedIpUuid, or l3NetworkUuid and an IPv4 ip');
      forgetDenseHints(db);
      return {};
    },

    async GetFreeIpOfL3Network(msg: Message<ApiParams<typeof GetFreeIpOfL3Network>>) {
      const p = msg.body;
      await requireL3(p.l3NetworkUuid);
      if (p.ipRangeUuid && !(await findRow(db, IpRangeInventory, p.ipRangeUuid))) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find IpRange[uuid:${p.ipRangeUuid}]`);
      if (p.start !== undefined && !isIpv4(p.start)) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `start [${p.start}] is not an IPv4 address`);
      const ranges = await rangesOf(db, p.l3NetworkUuid, p.ipRangeUuid);
      return { inventories: await freeIps(db, ranges, p.start === undefined ? undefined : ipToLong(p.start), p.limit ?? 100) };
    },

    async CheckIpAvailability(msg: Message<ApiParams<typeof CheckIpAvailability>>) {
      const p = msg.body;
      await requireL3(p.l3NetworkUuid);
      if (!isIpv4(p.ip)) return { available: false, reason: `[${p.ip}] is not an IPv4 address` };
      const ip = ipToLong(p.ip);
      if (p.ipRangeCheck !== false) {
        const inRange = (await rangesOf(db, p.l3NetworkUuid)).some((r) => r.startIpInLong <= ip && ip <= r.endIpInLong);
        if (!inRange) return { available: false, reason: `the IP ${p.ip} is in no IP range of the L3 network ${p.l3NetworkUuid}` };
      }
      const used = await db.selectFrom('used_ip').select('uuid').where('l3NetworkUuid', '=', p.l3NetworkUuid).where('ipInLong', '=', ip).executeTakeFirst();
      return used ? { available: false, reason: `the IP ${p.ip} is already used` } : { available: true };
    },
  };
}
