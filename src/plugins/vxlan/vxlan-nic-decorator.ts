import type { Kysely } from 'kysely';
import type { VmCommandDecorator } from '../../contracts/vm.ts';
import { isVxlan, l3Realizations, vxlanBridgeName } from './network-views.ts';

type NicLike = { uuid?: string; l3NetworkUuid?: string; bridgeName?: string | null; [k: string]: unknown };

/** Each NIC of `/vm/start` and `/vm/attachnic` on a VXLAN L3 network joins the VNI's bridge `br_vx_<vni>` (any hypervisor type). */
export function vxlanNicDecorator(db: Kysely<any>): VmCommandDecorator {
  async function decorate(nics: NicLike[]): Promise<NicLike[]> {
    const l3Of = new Map<NicLike, string>();
    const missing = nics.filter((n) => !n.l3NetworkUuid && n.uuid).map((n) => n.uuid as string);
    const rows = missing.length ? await db.selectFrom('vm_nic').select(['uuid', 'l3NetworkUuid']).where('uuid', 'in', missing).execute() : [];
    for (const n of nics) {
      const l3 = n.l3NetworkUuid ?? (rows.find((r) => r.uuid === n.uuid)?.l3NetworkUuid as string | undefined);
      if (l3) l3Of.set(n, l3);
    }
    const r = await l3Realizations(db, [...l3Of.values()]);
    return nics.map((n) => {
      const x = r.get(l3Of.get(n) ?? '');
      return isVxlan(x) ? { ...n, bridgeName: vxlanBridgeName(x.virtualNetworkId), physicalInterface: null } : n;
    });
  }
  return {
    async decorate(path, cmd) {
      if (Array.isArray(cmd.nics)) return { ...cmd, nics: await decorate(cmd.nics as NicLike[]) };
      if (cmd.nic && typeof cmd.nic === 'object' && path.endsWith('/attachnic')) return { ...cmd, nic: (await decorate([cmd.nic as NicLike]))[0] };
      return cmd;
    },
  };
}
