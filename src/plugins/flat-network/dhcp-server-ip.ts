import type { Kysely } from 'kysely';
import { L3NetworkMessages, type UsedIpView } from '../../contracts/network.ts';
import type { Bus } from '../../core/bus/index.ts';
import type { WorkQueues } from '../../core/queue/index.ts';

/** ZStack's usedFor of the address a flat network's DHCP server holds in each L3 network. */
export const DHCP_USED_FOR = 'DHCP';

export interface DhcpServerIp {
  usedIpUuid: string;
  ip: string;
  netmask: string;
}

/**
 * The L3 network's DHCP server address (ZStack's FlatDhcpBackend allocateDhcpIp): one IP of the L3's
 * ranges, taken from the IPAM the first time a VM on the L3 needs DHCP and recorded as the `used_ip`
 * row with `usedFor: DHCP`. It is given back when no host serves the L3 any more (the L3 and its
 * ranges go with their used IPs anyway). Two nodes allocating at once keep the oldest row and give the
 * other back.
 */
export function dhcpServerIps(deps: { db: Kysely<any>; bus: Bus; queues: WorkQueues }) {
  const { db, bus, queues } = deps;
  const recorded = async (l3NetworkUuid: string) => (await db.selectFrom('used_ip').select(['uuid', 'ip', 'netmask', 'createDate']).where('l3NetworkUuid', '=', l3NetworkUuid).where('usedFor', '=', DHCP_USED_FOR).orderBy('createDate').orderBy('uuid').execute())
    .map((r) => ({ usedIpUuid: r.uuid as string, ip: r.ip as string, netmask: r.netmask as string }));

  return {
    recorded,
    ensure(l3NetworkUuid: string): Promise<DhcpServerIp> {
      return queues.submit(`flat-dhcp-ip-${l3NetworkUuid}`, async () => {
        const [first] = await recorded(l3NetworkUuid);
        if (first) return first;
        await bus.call<UsedIpView>('l3Network', L3NetworkMessages.allocateIp, { l3NetworkUuid, usedFor: DHCP_USED_FOR }, { resourceUuid: l3NetworkUuid });
        const [keep, ...extra] = await recorded(l3NetworkUuid);
        for (const e of extra) await bus.call('l3Network', L3NetworkMessages.releaseIp, { usedIpUuid: e.usedIpUuid }, { resourceUuid: l3NetworkUuid });
        return keep;
      });
    },
    /** Gives the address back unless `inUse` (asked inside the allocation queue, so no allocation races it). */
    release(l3NetworkUuid: string, inUse: () => Promise<boolean>): Promise<void> {
      return queues.submit(`flat-dhcp-ip-${l3NetworkUuid}`, async () => {
        if (await inUse()) return;
        for (const r of await recorded(l3NetworkUuid)) await bus.call('l3Network', L3NetworkMessages.releaseIp, { usedIpUuid: r.usedIpUuid }, { resourceUuid: l3NetworkUuid });
      });
    },
  };
}

export type DhcpServerIps = ReturnType<typeof dhcpServerIps>;
