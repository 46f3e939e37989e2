import type { Kysely } from 'kysely';
import { L2NetworkTypes } from '../../contracts/network.ts';
import type { VmCommandDecorator } from '../../contracts/vm.ts';

interface NicLike {
  uuid?: string;
  l3NetworkUuid?: string;
  physicalInterface?: string | null;
  bridgeName?: string | null;
  [key: string]: unknown;
}

/** ZStack's NoVlan bridge name: `br_` + the interface, dots made underscores, at most 15 characters. */
export const bridgeNameOf = (physicalInterface: string) => `br_${physicalInterface.replace(/\./g, '_')}`.slice(0, 15);

/**
 * Each NIC of `/vm/start` and `/vm/attachnic` gets its L2 network's physical interface and bridge, as
 * ZStack's KVM L2 backends fill NicTO.bridgeName. A NoVlan L2 uses its interface; a VLAN L2 its
 * `<interface>.<vlan>` device (the agent refuses it where the kernel has no 802.1Q); other types
 * (VXLAN) are left to their own plugins. Reads the L2/L3 tables (read-only, as the allocator reads hosts).
 */
export function kvmNicNetworks(db: Kysely<any>): VmCommandDecorator {
  async function decorateNic(nic: NicLike): Promise<NicLike> {
    if (nic.physicalInterface || nic.bridgeName) return nic;
    let l3 = nic.l3NetworkUuid;
    if (!l3 && nic.uuid) l3 = (await db.selectFrom('vm_nic').select('l3NetworkUuid').where('uuid', '=', nic.uuid).executeTakeFirst())?.l3NetworkUuid as string | undefined;
    if (!l3) return nic;
    const l2 = await db.selectFrom('l3_network as l3').innerJoin('l2_network as l2', 'l2.uuid', 'l3.l2NetworkUuid').select(['l2.type as type', 'l2.physicalInterface as physicalInterface', 'l2.virtualNetworkId as vlan']).where('l3.uuid', '=', l3).executeTakeFirst();
    if (!l2?.physicalInterface) return nic;
    const device = l2.type === L2NetworkTypes.vlan && l2.vlan != null ? `${String(l2.physicalInterface)}.${Number(l2.vlan)}` : l2.type === L2NetworkTypes.noVlan ? String(l2.physicalInterface) : undefined;
    return device ? { ...nic, physicalInterface: device, bridgeName: bridgeNameOf(device) } : nic;
  }

  return {
    hypervisorTypes: ['KVM'],
    async decorate(path, cmd) {
      if (Array.isArray(cmd.nics)) return { ...cmd, nics: await Promise.all((cmd.nics as NicLike[]).map(decorateNic)) };
      if (cmd.nic && typeof cmd.nic === 'object' && path.endsWith('/attachnic')) return { ...cmd, nic: await decorateNic(cmd.nic as NicLike) };
      return cmd;
    },
  };
}
