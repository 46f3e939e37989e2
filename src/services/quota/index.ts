import { IdentityEvents } from '../../contracts/identity.ts';
import { OwnershipEvents, type OwnerChangedEvent } from '../../contracts/ownership.ts';
import type { ApiParams } from '../../core/api/define-api.ts';
import { serviceFromHandlers, type Message } from '../../core/bus/index.ts';
import type { ConfigHandle } from '../../core/config/index.ts';
import { SysErrors, StratoError } from '../../core/errors/index.ts';
import type { ServiceModule } from '../../core/node-context.ts';
import { isAdmin } from '../../core/query/access-filter.ts';
import { rowToInventory } from '../../core/query/inventory.ts';
import type { GetAccountQuotaUsage, UpdateQuota } from './apis.ts';
import { quotaApis } from './apis.ts';
import { QuotaLedger } from './ledger.ts';
import { QuotaPlanner } from './plans.ts';
import { quotaInterceptor } from './quota-interceptor.ts';
import { QuotaReconciler } from './reconcile.ts';
import { QUOTA_DEFAULTS } from './quota-names.ts';
import { quotaMigration, QuotaInventory } from './schema.ts';

/**
 * Per-account quotas (ZStack's QuotaVO): defaults in global configuration (category `quota`),
 * per-account values by UpdateQuota, enforced atomically on the bus for normal accounts.
 */
/** Internal messages of the quota service. */
export const QuotaMessages = { reconcile: 'quota.Reconcile' } as const;

const reconcilersOf = new WeakMap<object, { reconciler: QuotaReconciler; interval: ConfigHandle<number>; grace: ConfigHandle<number>; timer?: NodeJS.Timeout }>();

export const quotaService: ServiceModule = {
  id: 'quota',
  migrations: [quotaMigration],
  inventories: [QuotaInventory],
  apis: quotaApis,
  setup(ctx) {
    const defaults: Record<string, ConfigHandle<number>> = {};
    for (const [name, d] of Object.entries(QUOTA_DEFAULTS)) {
      defaults[name] = ctx.config.define({ category: 'quota', name, type: 'number', defaultValue: d.value, min: 0, description: `default quota of an account: ${d.description}` });
    }
    const ledger = new QuotaLedger(ctx.db, defaults);
    const planner = new QuotaPlanner(ctx.db, ctx.inventories);
    // Accounts are the identity service's rows; read, never written, here (docs/decisions: known debts).
    const normalAccounts = async () => (await ctx.db.selectFrom('account').select('uuid').where('type', '!=', 'SystemAdmin').execute()).map((r) => r.uuid as string);
    const accountExists = async (uuid: string) => !!(await ctx.db.selectFrom('account').select('uuid').where('uuid', '=', uuid).executeTakeFirst());
    const notFound = (uuid: string) => new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find account[uuid:${uuid}]`);
    ctx.bus.addInterceptor(quotaInterceptor(ctx.apis, ledger, planner, normalAccounts, ctx.log));
    const interval = ctx.config.define({ category: 'quota', name: 'reconcile.interval', type: 'number', defaultValue: 300, min: 1, description: 'seconds between passes that give back charges of resources gone without a delete API (cascades, VMs stopped by the system)' });
    const grace = ctx.config.define({ category: 'quota', name: 'reconcile.grace', type: 'number', defaultValue: 3600, min: 0, description: 'seconds a charge is left alone after it is taken (a create or start may still be running)' });
    const reconciler = new QuotaReconciler(ctx.db, ledger, ctx.inventories);
    reconcilersOf.set(ctx, { reconciler, interval, grace });
    // What the account owned was deleted (and given back) before it: its quotas go with it.
    ctx.bus.subscribe<{ uuid: string }>(IdentityEvents.accountDeleted, async (b) => ledger.forget(b.uuid));
    ctx.bus.subscribe<OwnerChangedEvent>(OwnershipEvents.ownerChanged, async (b) => ledger.transfer(b.resourceUuid, b.toAccountUuid));
    ctx.bus.registerService(
      serviceFromHandlers('quota', {
        UpdateQuota: async (msg: Message<ApiParams<typeof UpdateQuota>>) => {
          const { identityUuid, name, value } = msg.body;
          if (!(name in QUOTA_DEFAULTS)) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `unknown quota ${name}; quotas are: ${Object.keys(QUOTA_DEFAULTS).join(', ')}`);
          if (!(await accountExists(identityUuid))) throw notFound(identityUuid);
          return rowToInventory(QuotaInventory, await ledger.update(identityUuid, name, value));
        },
        [QuotaMessages.reconcile]: async () => ({ released: await reconciler.run(grace.get() * 1000) }),
        GetAccountQuotaUsage: async (msg: Message<ApiParams<typeof GetAccountQuotaUsage>>) => {
          const uuid = msg.body.uuid;
          // Another account's usage is answered as a missing account's.
          if (!isAdmin(msg.caller) && msg.caller!.accountUuid !== uuid) throw notFound(uuid);
          if (!(await accountExists(uuid))) throw notFound(uuid);
          return { usages: await ledger.usage(uuid) };
        },
      }),
    );
  },
  start(ctx) {
    const r = reconcilersOf.get(ctx);
    if (!r) return;
    let running = false;
    const pass = () => {
      if (running) return;
      running = true;
      r.reconciler.run(r.grace.get() * 1000).catch((err: unknown) => ctx.log.warn({ err }, 'quota reconcile failed')).finally(() => { running = false; });
    };
    const schedule = () => {
      if (r.timer) clearInterval(r.timer);
      r.timer = setInterval(pass, r.interval.get() * 1000);
      r.timer.unref();
    };
    schedule();
    r.interval.onChange(schedule);
  },
  stop(ctx) {
    const r = reconcilersOf.get(ctx);
    if (r?.timer) clearInterval(r.timer);
  },
};
