import type { Kysely } from 'kysely';
import type { EipTO } from '../../contracts/eip-agent.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import { bridgeOf, l3Realizations } from '../vxlan/index.ts';

/** A NIC as the EIP commands need it. */
export interface EipNic {
  uuid: string;
  vmInstanceUuid: string;
  l3NetworkUuid: string;
  ip: string | null;
  mac: string;
  netmask: string | null;
  gateway: string | null;
  internalName: string;
}

/** The bridge an L3 network's ports join on a KVM host (ZStack's names), and the uplink a NoVlan/VLAN bridge holds. */
async function bridgeOfL3(db: Kysely<any>, l3Uuid: string): Promise<{ bridgeName: string; physicalInterface: string | null } | undefined> {
  const r = (await l3Realizations(db, [l3Uuid])).get(l3Uuid);
  return r && bridgeOf(r);
}

/** The enabled EIPs mapped to these NICs, by NIC. */
export async function eipsOfNics(db: Kysely<any>, nicUuids: readonly string[]): Promise<Array<{ uuid: string; vipUuid: string; vmNicUuid: string }>> {
  if (nicUuids.length === 0) return [];
  const rows = await db.selectFrom('eip').select(['uuid', 'vipUuid', 'vmNicUuid']).where('vmNicUuid', 'in', nicUuids).where('state', '=', 'Enabled').orderBy('uuid').execute();
  return rows as Array<{ uuid: string; vipUuid: string; vmNicUuid: string }>;
}

export async function nicRow(db: Kysely<any>, nicUuid: string): Promise<EipNic | undefined> {
  return (await db.selectFrom('vm_nic').select(['uuid', 'vmInstanceUuid', 'l3NetworkUuid', 'ip', 'mac', 'netmask', 'gateway', 'internalName']).where('uuid', '=', nicUuid).executeTakeFirst()) as EipNic | undefined;
}

/**
 * What a host needs to realize one EIP on a NIC (contracts/eip-agent.ts EipTO); a NIC or network that
 * cannot carry one (no address, no gateway, an L2 with no bridge on KVM) is refused with the reason.
 */
export async function eipTO(db: Kysely<any>, eip: { uuid: string; vipUuid: string }, nic: EipNic): Promise<EipTO> {
  const vip = await db.selectFrom('vip').select(['uuid', 'ip', 'netmask', 'gateway', 'l3NetworkUuid']).where('uuid', '=', eip.vipUuid).executeTakeFirst();
  if (!vip) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `the VIP of EIP ${eip.uuid} is gone`);
  if (!nic.ip || !nic.netmask || !nic.gateway) throw new StratoError(SysErrors.OPERATION_ERROR, `vm nic[uuid:${nic.uuid}] has no address, netmask or gateway: a flat EIP answers as the NIC's gateway and needs all three`);
  const pub = await bridgeOfL3(db, vip.l3NetworkUuid as string);
  const priv = await bridgeOfL3(db, nic.l3NetworkUuid);
  if (!pub || !priv) throw new StratoError(SysErrors.OPERATION_ERROR, `EIP ${eip.uuid}: the ${pub ? "NIC's" : "VIP's"} L2 network has no bridge on KVM hosts (no physical interface)`);
  return {
    eipUuid: eip.uuid, vipUuid: vip.uuid as string, vmUuid: nic.vmInstanceUuid,
    vip: vip.ip as string, vipNetmask: vip.netmask as string, vipGateway: (vip.gateway as string | null) || null,
    publicBridgeName: pub.bridgeName, publicPhysicalInterface: pub.physicalInterface,
    vmBridgeName: priv.bridgeName, vmPhysicalInterface: priv.physicalInterface,
    nicName: nic.internalName, nicIp: nic.ip, nicMac: nic.mac, nicNetmask: nic.netmask, nicGateway: nic.gateway,
  };
}
