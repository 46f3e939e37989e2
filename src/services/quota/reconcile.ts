import type { Kysely } from 'kysely';
import type { InventoryRegistry, NormalizedInventoryDef } from '../../core/query/index.ts';
import type { QuotaLedger } from './ledger.ts';
import { RUNNING_VM_QUOTAS } from './quota-names.ts';

/** VM states in which a VM certainly does not run (its running charges are owed back). */
const NOT_RUNNING = ['Stopped', 'Destroyed'];

/**
 * Charges are given back by the APIs that delete, stop or expunge; resources can also go another way
 * (a cascade from a deleted L3 network or zone, a VM stopped because its host went away). This pass
 * finds charges older than `graceMs` (so no create or start still in flight is touched) whose resource
 * no longer exists, or running-VM charges of VMs that no longer run, and gives them back.
 */
export class QuotaReconciler {
  readonly #tables: NormalizedInventoryDef[];

  constructor(private readonly db: Kysely<any>, private readonly ledger: QuotaLedger, inventories: InventoryRegistry) {
    const seen = new Set<string>();
    this.#tables = inventories.list().filter((d) => d.primaryKey === 'uuid' && !seen.has(d.table) && seen.add(d.table));
  }

  async #exists(uuid: string): Promise<boolean> {
    for (const def of this.#tables) {
      if (await this.db.selectFrom(def.table).select(def.fields.uuid.column).where(def.fields.uuid.column, '=', uuid).executeTakeFirst()) return true;
    }
    return false;
  }

  /** Returns how many resources had charges given back. */
  async run(graceMs: number, now = Date.now()): Promise<number> {
    const before = now - graceMs;
    const rows = await this.db.selectFrom('quota_charge').select(['resourceUuid', 'name']).where('createDate', '<=', before).execute();
    const byResource = new Map<string, string[]>();
    for (const r of rows) byResource.set(r.resourceUuid as string, [...(byResource.get(r.resourceUuid as string) ?? []), r.name as string]);
    let released = 0;
    const vmTable = this.#tables.find((d) => d.name === 'VmInstanceInventory');
    for (const [uuid, names] of byResource) {
      if (!(await this.#exists(uuid))) {
        await this.ledger.release([{ resourceUuid: uuid }]);
        released++;
        continue;
      }
      if (vmTable && names.some((n) => RUNNING_VM_QUOTAS.includes(n))) {
        const vm = await this.db.selectFrom(vmTable.table).select(vmTable.fields.state.column).where(vmTable.fields.uuid.column, '=', uuid).executeTakeFirst();
        if (vm && NOT_RUNNING.includes(String(vm[vmTable.fields.state.column]))) {
          await this.ledger.release([{ resourceUuid: uuid, names: RUNNING_VM_QUOTAS }]);
          released++;
        }
      }
    }
    return released;
  }
}
