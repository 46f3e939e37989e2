import type { Kysely } from 'kysely';
import type { ConfigHandle } from '../../core/config/index.ts';
import { isUniqueViolation } from '../../core/db/unique-violation.ts';
import { IdentityErrors, StratoError } from '../../core/errors/index.ts';
import { newUuid } from '../../core/util/uuid.ts';
import { QUOTA_NAMES } from './quota-names.ts';

/** A charge row that is already there means the resource is charged; any other failure (a lock timeout, a deadlock) is the caller's. */
function alreadyCharged(e: unknown): false {
  if (!isUniqueViolation(e)) throw e;
  return false;
}

export interface Charge {
  resourceUuid: string;
  name: string;
  amount: number;
}

/**
 * Reservations against quotas without locks: a charge row per (resource, quota) proves the charge,
 * and `used` moves by one conditional UPDATE (`used + n <= limit`), so concurrent creates can never
 * together exceed a quota. A charge is given back by whoever deletes its row, so exactly once.
 */
export class QuotaLedger {
  constructor(
    private readonly db: Kysely<any>,
    private readonly defaults: Record<string, ConfigHandle<number>>,
  ) {}

  async limitOf(accountUuid: string, name: string): Promise<number> {
    const row = await this.db.selectFrom('quota').select('value').where('identityUuid', '=', accountUuid).where('name', '=', name).executeTakeFirst();
    return row ? Number(row.value) : this.defaults[name].get();
  }

  async #ensureUsageRow(accountUuid: string, name: string): Promise<void> {
    const exists = await this.db.selectFrom('quota_usage').select('used').where('accountUuid', '=', accountUuid).where('name', '=', name).executeTakeFirst();
    if (exists) return;
    await this.db.insertInto('quota_usage').values({ accountUuid, name, used: 0 }).execute().catch(() => undefined); // a concurrent insert won
  }

  /**
   * Takes every charge or none. A resource already charged under a name (a VM started twice) is not
   * charged again. `strict` (amount 0) refuses once the usage has reached the quota (image size,
   * known only after the download). Returns what was taken, for `undo`.
   */
  async reserve(accountUuid: string, charges: readonly (Charge & { strict?: boolean })[]): Promise<Charge[]> {
    const taken: Charge[] = [];
    try {
      for (const c of charges) {
        const limit = await this.limitOf(accountUuid, c.name);
        await this.#ensureUsageRow(accountUuid, c.name);
        if (c.strict) {
          const row = await this.db.selectFrom('quota_usage').select('used').where('accountUuid', '=', accountUuid).where('name', '=', c.name).executeTakeFirstOrThrow();
          if (Number(row.used) >= limit) throw exceeded(c.name, limit, Number(row.used), 1);
          continue;
        }
        const inserted = await this.db.insertInto('quota_charge').values({ resourceUuid: c.resourceUuid, name: c.name, accountUuid, amount: c.amount, createDate: Date.now() }).execute().then(() => true, alreadyCharged);
        if (!inserted) continue; // already charged
        const r = await this.db
          .updateTable('quota_usage')
          .set((eb) => ({ used: eb('used', '+', c.amount) }))
          .where('accountUuid', '=', accountUuid)
          .where('name', '=', c.name)
          .where((eb) => eb(eb('used', '+', c.amount), '<=', limit))
          .executeTakeFirst();
        if (Number(r.numUpdatedRows) === 0) {
          await this.db.deleteFrom('quota_charge').where('resourceUuid', '=', c.resourceUuid).where('name', '=', c.name).execute();
          const used = await this.db.selectFrom('quota_usage').select('used').where('accountUuid', '=', accountUuid).where('name', '=', c.name).executeTakeFirstOrThrow();
          throw exceeded(c.name, limit, Number(used.used), c.amount);
        }
        taken.push(c);
      }
      return taken;
    } catch (e) {
      await this.release(taken.map((c) => ({ resourceUuid: c.resourceUuid, names: [c.name] })));
      throw e;
    }
  }

  /** Adds a charge that cannot be refused any more (an image's size, known once it is downloaded). */
  async add(accountUuid: string, c: Charge): Promise<void> {
    await this.#ensureUsageRow(accountUuid, c.name);
    const inserted = await this.db.insertInto('quota_charge').values({ resourceUuid: c.resourceUuid, name: c.name, accountUuid, amount: c.amount, createDate: Date.now() }).execute().then(() => true, alreadyCharged);
    if (inserted) await this.db.updateTable('quota_usage').set((eb) => ({ used: eb('used', '+', c.amount) })).where('accountUuid', '=', accountUuid).where('name', '=', c.name).execute();
  }

  /** Gives back the charges of resources (all names when `names` is absent); each charge at most once. */
  async release(items: readonly { resourceUuid: string; names?: readonly string[] }[]): Promise<void> {
    for (const it of items) {
      let q = this.db.selectFrom('quota_charge').selectAll().where('resourceUuid', '=', it.resourceUuid);
      if (it.names) q = q.where('name', 'in', [...it.names]);
      for (const row of await q.execute()) {
        const d = await this.db.deleteFrom('quota_charge').where('resourceUuid', '=', row.resourceUuid).where('name', '=', row.name).executeTakeFirst();
        if (Number(d.numDeletedRows) !== 1) continue; // someone else gave it back
        await this.db.updateTable('quota_usage').set((eb) => ({ used: eb('used', '-', Number(row.amount)) })).where('accountUuid', '=', row.accountUuid).where('name', '=', row.name).execute();
      }
    }
  }

  async usage(accountUuid: string): Promise<{ name: string; used: number; total: number }[]> {
    const rows = await this.db.selectFrom('quota_usage').select(['name', 'used']).where('accountUuid', '=', accountUuid).execute();
    const used = new Map(rows.map((r) => [r.name as string, Number(r.used)]));
    const out = [];
    for (const name of QUOTA_NAMES) out.push({ name, used: used.get(name) ?? 0, total: await this.limitOf(accountUuid, name) });
    return out;
  }

  /**
   * ZStack lists every quota of every account; rows are written for the defaults of accounts that
   * have none yet (before QueryQuota reads them), so a later change of a default does not move them.
   */
  async materialize(accountUuids: readonly string[]): Promise<void> {
    if (accountUuids.length === 0) return;
    const existing = await this.db.selectFrom('quota').select(['identityUuid', 'name']).where('identityUuid', 'in', [...accountUuids]).execute();
    const have = new Set(existing.map((r) => `${r.identityUuid}/${r.name}`));
    const now = Date.now();
    for (const a of accountUuids) {
      for (const name of QUOTA_NAMES) {
        if (have.has(`${a}/${name}`)) continue;
        await this.db.insertInto('quota').values({ uuid: newUuid(), name, identityUuid: a, identityType: 'AccountVO', value: this.defaults[name].get(), createDate: now, lastOpDate: now }).execute().catch(() => undefined);
      }
    }
  }

  /**
   * A resource given to another account takes its charges along (ChangeResourceOwner is an
   * administrator's decision: the new owner may end up above a quota, as ZStack allows too).
   */
  async transfer(resourceUuid: string, toAccountUuid: string): Promise<void> {
    for (const row of await this.db.selectFrom('quota_charge').selectAll().where('resourceUuid', '=', resourceUuid).execute()) {
      if (row.accountUuid === toAccountUuid) continue;
      const moved = await this.db.updateTable('quota_charge').set({ accountUuid: toAccountUuid }).where('resourceUuid', '=', resourceUuid).where('name', '=', row.name).where('accountUuid', '=', row.accountUuid).executeTakeFirst();
      if (Number(moved.numUpdatedRows) !== 1) continue; // given back or moved meanwhile
      await this.db.updateTable('quota_usage').set((eb) => ({ used: eb('used', '-', Number(row.amount)) })).where('accountUuid', '=', row.accountUuid).where('name', '=', row.name).execute();
      await this.#ensureUsageRow(toAccountUuid, row.name as string);
      await this.db.updateTable('quota_usage').set((eb) => ({ used: eb('used', '+', Number(row.amount)) })).where('accountUuid', '=', toAccountUuid).where('name', '=', row.name).execute();
    }
  }

  async forget(accountUuid: string): Promise<void> {
    await this.db.deleteFrom('quota').where('identityUuid', '=', accountUuid).execute();
    await this.db.deleteFrom('quota_usage').where('accountUuid', '=', accountUuid).execute();
    await this.db.deleteFrom('quota_charge').where('accountUuid', '=', accountUuid).execute();
  }

  async update(accountUuid: string, name: string, value: number): Promise<Record<string, unknown>> {
    await this.materialize([accountUuid]);
    await this.db.updateTable('quota').set({ value, lastOpDate: Date.now() }).where('identityUuid', '=', accountUuid).where('name', '=', name).execute();
    return this.db.selectFrom('quota').selectAll().where('identityUuid', '=', accountUuid).where('name', '=', name).executeTakeFirstOrThrow();
  }
}

function exceeded(name: string, limit: number, used: number, asked: number): StratoError {
  return new StratoError(IdentityErrors.QUOTA_EXCEEDING, `quota exceeding: ${name} is ${limit}, ${used} is used, ${asked} more was asked`);
}
