import type { ApiRegistry } from '../../core/api/api-registry.ts';
import type { Interceptor, Message, Reply } from '../../core/bus/index.ts';
import { isAdmin } from '../../core/query/access-filter.ts';
import { newUuid } from '../../core/util/uuid.ts';
import type { Charge, QuotaLedger } from './ledger.ts';
import type { QuotaPlanner } from './plans.ts';

interface Pending {
  accountUuid: string;
  taken: Charge[];
  releases: { resourceUuid: string; names?: string[] }[];
  imageSize?: string;
}

/**
 * Quotas on the bus, for every API message of a normal account: the call's charges are reserved
 * before its service runs (QUOTA_EXCEEDING refuses it otherwise), given back if it fails; a
 * successful delete, stop or expunge gives back what its resource was charged, whoever calls it.
 * QueryQuota first writes the default rows of the accounts it may list.
 */
export function quotaInterceptor(apis: ApiRegistry, ledger: QuotaLedger, planner: QuotaPlanner, allAccounts: () => Promise<string[]>, log: { warn(o: object, m: string): void }): Interceptor {
  const pending = new WeakMap<Message, Pending>();
  const reserve = async (msg: Message, apiName: string, create: boolean): Promise<void> => {
    const caller = msg.caller!;
    if (apiName === 'QueryQuota') {
      await ledger.materialize(isAdmin(caller) ? await allAccounts() : [caller.accountUuid]);
      return;
    }
    let body = msg.body as Record<string, any>;
    if (create && body.resourceUuid === undefined) msg.body = body = { ...body, resourceUuid: newUuid() };
    const plan = await planner.plan(apiName, body);
    if (plan.charges.length === 0 && plan.releases.length === 0) return;
    // Administrators have no quota; their deletes still give back what a tenant's resource was charged.
    const taken = isAdmin(caller) ? [] : await ledger.reserve(caller.accountUuid, plan.charges);
    pending.set(msg, { accountUuid: caller.accountUuid, taken, releases: plan.releases, imageSize: isAdmin(caller) ? undefined : plan.chargeImageSizeFromReply });
  };

  return {
    name: 'quota',
    beforeDeliver(msg) {
      const api = apis.find(msg.type);
      // Synchronous for every message quotas do not concern: internal messages stay off the promise path.
      if (!api || api.service !== msg.service || !msg.caller || (api.name !== 'QueryQuota' && !planner.concerns(api.name))) return;
      return reserve(msg, api.name, api.create);
    },
    afterReply(msg: Message, reply: Reply) {
      const p = pending.get(msg);
      if (!p) return;
      const work = reply.success ? settle(ledger, p, reply.value) : ledger.release(p.taken.map((c) => ({ resourceUuid: c.resourceUuid, names: [c.name] })));
      work.catch((err: unknown) => log.warn({ err, type: msg.type }, 'quota: bookkeeping after the reply failed'));
    },
  };
}

async function settle(ledger: QuotaLedger, p: Pending, value: unknown): Promise<void> {
  await ledger.release(p.releases);
  if (p.imageSize) {
    const inv = (value as { inventory?: { size?: number } } | undefined)?.inventory ?? (value as { size?: number } | undefined);
    const size = Number((inv as { size?: number } | undefined)?.size ?? 0);
    if (size > 0) await ledger.add(p.accountUuid, { resourceUuid: p.imageSize, name: 'image.size', amount: size });
  }
}
