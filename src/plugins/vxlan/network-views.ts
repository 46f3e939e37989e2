import type { Kysely } from 'kysely';
import { L2NetworkTypes } from '../../contracts/network.ts';
import { readCache } from '../../core/db/index.ts';

/** What a NIC's L3 network is made of on a host (read from the network services' tables, read-only). */
export interface L3Realization {
  l3NetworkUuid: string;
  l2NetworkUuid: string;
  l2Type: string;
  /** The VNI (VxlanNetwork) or VLAN id. */
  virtualNetworkId: number | null;
  poolUuid: string | null;
  physicalInterface: string | null;
}

export async function l3Realizations(db: Kysely<any>, l3Uuids: readonly string[]): Promise<Map<string, L3Realization>> {
  const out = new Map<string, L3Realization>();
  const uuids = [...new Set(l3Uuids)];
  if (!uuids.length) return out;
  // Asked several times per VM create (bridges, DHCP, the agent commands' decoration); L3 and L2 networks
  // change seldom, so the join comes from the read cache until either table is written (fresh on MariaDB).
  const rows = await readCache(db).get(`vxlan.l3Realizations:${[...uuids].sort().join(',')}`, ['l3_network', 'l2_network'], () =>
    db.selectFrom('l3_network as l3').innerJoin('l2_network as l2', 'l2.uuid', 'l3.l2NetworkUuid')
      .select(['l3.uuid as l3', 'l2.uuid as l2', 'l2.type as type', 'l2.virtualNetworkId as vni', 'l2.poolUuid as pool', 'l2.physicalInterface as iface'])
      .where('l3.uuid', 'in', uuids).execute());
  for (const r of rows) {
    out.set(r.l3 as string, { l3NetworkUuid: r.l3 as string, l2NetworkUuid: r.l2 as string, l2Type: r.type as string, virtualNetworkId: r.vni == null ? null : Number(r.vni), poolUuid: (r.pool as string | null) ?? null, physicalInterface: (r.iface as string | null) ?? null });
  }
  return out;
}

export const isVxlan = (r: L3Realization | undefined): r is L3Realization & { virtualNetworkId: number; poolUuid: string } =>
  r?.l2Type === L2NetworkTypes.vxlan && r.virtualNetworkId != null && r.poolUuid != null;

/** ZStack's bridge names: `br_vx_<vni>` for VXLAN, `br_<iface>` (dots → `_`, ≤ 15 characters) for NoVlan, `br_<iface>_<vlan>` for VLAN. */
export const vxlanBridgeName = (vni: number) => `br_vx_${vni}`;
export const noVlanBridgeName = (physicalInterface: string) => `br_${physicalInterface.replace(/\./g, '_')}`.slice(0, 15);

/** The Linux bridge an L3's NICs join on a host, and the uplink device it holds (none for VXLAN: the VTEP). */
export function bridgeOf(r: L3Realization): { bridgeName: string; physicalInterface: string | null } | undefined {
  if (isVxlan(r)) return { bridgeName: vxlanBridgeName(r.virtualNetworkId), physicalInterface: null };
  if (!r.physicalInterface) return undefined;
  if (r.l2Type === L2NetworkTypes.noVlan) return { bridgeName: noVlanBridgeName(r.physicalInterface), physicalInterface: r.physicalInterface };
  if (r.l2Type === L2NetworkTypes.vlan && r.virtualNetworkId != null) {
    const device = `${r.physicalInterface}.${r.virtualNetworkId}`;
    return { bridgeName: noVlanBridgeName(device), physicalInterface: device };
  }
  return undefined;
}

/**
 * How many NICs on L3 networks of `l2NetworkUuid` (or on `l3NetworkUuid`) the node counts on the host,
 * leaving out `excludedNicUuids` (the ones leaving, during a rollback still recorded).
 */
export async function nicsOnHost(db: Kysely<any>, hostUuid: string, on: { l2NetworkUuid?: string; l3NetworkUuid?: string }, excludedNicUuids: readonly string[]): Promise<number> {
  let q = db.selectFrom('vm_nic as n').innerJoin('vm_instance as v', 'v.uuid', 'n.vmInstanceUuid').innerJoin('l3_network as l3', 'l3.uuid', 'n.l3NetworkUuid')
    .select((eb) => eb.fn.countAll().as('c')).where('v.hostUuid', '=', hostUuid);
  if (on.l2NetworkUuid) q = q.where('l3.l2NetworkUuid', '=', on.l2NetworkUuid);
  if (on.l3NetworkUuid) q = q.where('n.l3NetworkUuid', '=', on.l3NetworkUuid);
  if (excludedNicUuids.length) q = q.where('n.uuid', 'not in', excludedNicUuids);
  return Number((await q.executeTakeFirst())?.c ?? 0);
}
