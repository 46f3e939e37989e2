import type { Kysely } from 'kysely';
import type { InventoryRegistry } from '../../core/query/index.ts';
import type { Charge } from './ledger.ts';
import { RUNNING_VM_QUOTAS } from './quota-names.ts';

/** What one API call takes from its account's quotas, and what it gives back when it succeeds. */
export interface QuotaPlan {
  charges: (Charge & { strict?: boolean })[];
  /** Given back when the call succeeds, whoever made it (an administrator deleting a tenant's VM too). */
  releases: { resourceUuid: string; names?: string[] }[];
  /** Image sizes are known only once the image is in: charged from the reply. */
  chargeImageSizeFromReply?: string;
}

type Body = Record<string, any>;

const QUOTA_APIS = new Set([
  'CreateVmInstance', 'StartVmInstance', 'StopVmInstance', 'DestroyVmInstance', 'ExpungeVmInstance',
  'CreateDataVolume', 'RecoverDataVolume', 'DeleteDataVolume', 'ExpungeDataVolume', 'CreateVolumeSnapshot', 'DeleteVolumeSnapshot',
  'AddImage', 'RecoverImage', 'DeleteImage', 'ExpungeImage', 'CreateL3Network', 'DeleteL3Network',
  'CreateSecurityGroup', 'DeleteSecurityGroup', 'CreateEip', 'DeleteEip', 'CreateVip', 'DeleteVip',
]);

/**
 * The quota rules of each API, as data over the call's parameters and the rows they name. Rows of
 * other services are read through their inventory declarations (read-only; the known debt in
 * docs/decisions.md), never by importing those services.
 */
export class QuotaPlanner {
  constructor(private readonly db: Kysely<any>, private readonly inventories: InventoryRegistry) {}

  async #row(inventory: string, uuid: unknown, columns: string[]): Promise<Record<string, any> | undefined> {
    const def = this.inventories.find(inventory);
    if (!def || typeof uuid !== 'string') return undefined;
    return this.db.selectFrom(def.table).select(columns).where(def.fields[def.primaryKey].column, '=', uuid).executeTakeFirst();
  }

  async #diskSize(offeringUuid: unknown): Promise<number> {
    return Number((await this.#row('DiskOfferingInventory', offeringUuid, ['diskSize']))?.diskSize ?? 0);
  }

  /** Charges of a VM that runs: one running VM, its vCPUs, its memory. */
  #running(uuid: string, cpuNum: number, memorySize: number): Charge[] {
    return [{ resourceUuid: uuid, name: RUNNING_VM_QUOTAS[0], amount: 1 }, { resourceUuid: uuid, name: RUNNING_VM_QUOTAS[1], amount: cpuNum }, { resourceUuid: uuid, name: RUNNING_VM_QUOTAS[2], amount: memorySize }];
  }

  /** Whether an API has quota rules at all (answered without touching the database). */
  concerns(apiName: string): boolean {
    return QUOTA_APIS.has(apiName);
  }

  async plan(apiName: string, b: Body): Promise<QuotaPlan> {
    const one = (name: string): QuotaPlan => ({ charges: [{ resourceUuid: b.resourceUuid, name, amount: 1 }], releases: [] });
    const releaseAll: QuotaPlan = { charges: [], releases: [{ resourceUuid: b.uuid }] };
    switch (apiName) {
      case 'CreateVmInstance': {
        const offering = await this.#row('InstanceOfferingInventory', b.instanceOfferingUuid, ['cpuNum', 'memorySize']);
        const cpuNum = Number(b.cpuNum ?? offering?.cpuNum ?? 0);
        const memorySize = Number(b.memorySize ?? offering?.memorySize ?? 0);
        const charges: Charge[] = [{ resourceUuid: b.resourceUuid, name: 'vm.totalNum', amount: 1 }];
        if (b.strategy !== 'CreateStopped') charges.push(...this.#running(b.resourceUuid, cpuNum, memorySize));
        // Data disks made with the VM are charged to the VM and given back when it is expunged.
        const disks: unknown[] = b.dataDiskOfferingUuids ?? [];
        if (disks.length > 0) {
          let capacity = 0;
          for (const d of disks) capacity += await this.#diskSize(d);
          charges.push({ resourceUuid: b.resourceUuid, name: 'volume.data.num', amount: disks.length }, { resourceUuid: b.resourceUuid, name: 'volume.capacity', amount: capacity });
        }
        return { charges, releases: [] };
      }
      case 'StartVmInstance': {
        const vm = await this.#row('VmInstanceInventory', b.uuid, ['cpuNum', 'memorySize']);
        return { charges: vm ? this.#running(b.uuid, Number(vm.cpuNum), Number(vm.memorySize)) : [], releases: [] };
      }
      case 'StopVmInstance':
      case 'DestroyVmInstance':
        return { charges: [], releases: [{ resourceUuid: b.uuid, names: RUNNING_VM_QUOTAS }] };
      case 'ExpungeVmInstance':
        return releaseAll;
      case 'CreateDataVolume': {
        const size = Number(b.diskSize ?? (await this.#diskSize(b.diskOfferingUuid)));
        return { charges: [{ resourceUuid: b.resourceUuid, name: 'volume.data.num', amount: 1 }, { resourceUuid: b.resourceUuid, name: 'volume.capacity', amount: size }], releases: [] };
      }
      case 'RecoverDataVolume': {
        const v = await this.#row('VolumeInventory', b.uuid, ['size']);
        return { charges: v ? [{ resourceUuid: b.uuid, name: 'volume.data.num', amount: 1 }, { resourceUuid: b.uuid, name: 'volume.capacity', amount: Number(v.size ?? 0) }] : [], releases: [] };
      }
      case 'DeleteDataVolume':
      case 'ExpungeDataVolume':
        return releaseAll;
      case 'CreateVolumeSnapshot':
        return one('snapshot.volume.num');
      case 'DeleteVolumeSnapshot':
        return releaseAll;
      case 'AddImage':
        return { charges: [{ resourceUuid: b.resourceUuid, name: 'image.num', amount: 1 }, { resourceUuid: b.resourceUuid, name: 'image.size', amount: 0, strict: true }], releases: [], chargeImageSizeFromReply: b.resourceUuid };
      case 'RecoverImage': {
        const image = await this.#row('ImageInventory', b.uuid, ['size']);
        return { charges: image ? [{ resourceUuid: b.uuid, name: 'image.num', amount: 1 }, { resourceUuid: b.uuid, name: 'image.size', amount: Number(image.size ?? 0) }] : [], releases: [] };
      }
      case 'DeleteImage':
      case 'ExpungeImage':
        return releaseAll;
      case 'CreateL3Network':
        return one('l3.num');
      case 'CreateSecurityGroup':
        return one('securityGroup.num');
      case 'CreateEip':
        return one('eip.num');
      case 'CreateVip':
        return one('vip.num');
      case 'DeleteL3Network':
      case 'DeleteSecurityGroup':
      case 'DeleteEip':
      case 'DeleteVip':
        return releaseAll;
      default:
        return { charges: [], releases: [] };
    }
  }
}
