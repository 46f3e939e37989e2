import type { ApiParams } from '../../core/api/define-api.ts';
import { serviceFromHandlers, type Message } from '../../core/bus/index.ts';
import type { ServiceModule } from '../../core/node-context.ts';
import type { LogInByAccount, LogOut, RenewSession, ValidateSession } from './apis.ts';
import { identityApis } from './apis.ts';
import { AccountInventory, identityMigration, SessionInventory } from './schema.ts';
import { Sessions } from './sessions.ts';

/** Internal messages and events of the identity service. */
export const IdentityMessages = { authenticate: 'identity.Authenticate' } as const;
const SESSION_ENDED = 'identity.sessionEnded';

/** One Sessions per node (several nodes may share a process in tests). */
const sessionsOf = new WeakMap<object, Sessions>();

/** Accounts and sessions (the full identity model comes with tenants). */
export const identityService: ServiceModule = {
  id: 'identity',
  migrations: [identityMigration],
  inventories: [AccountInventory, SessionInventory],
  apis: identityApis,
  setup(ctx) {
    const timeout = ctx.config.define({ category: 'identity', name: 'session.timeout', type: 'number', defaultValue: 7200, min: 60, max: 31536000, description: 'seconds a session lives without renewal' });
    const cleanupInterval = ctx.config.define({ category: 'identity', name: 'session.cleanup.interval', type: 'number', defaultValue: 3600, min: 1, description: 'seconds between deletions of expired sessions' });
    const s = new Sessions(ctx.db, timeout, { cleanupIntervalSeconds: cleanupInterval, log: ctx.log.child({ component: 'sessions' }) });
    sessionsOf.set(ctx, s);
    // A logout on any node evicts the session from every node's cache at once.
    ctx.bus.subscribe<{ sessionUuid: string }>(SESSION_ENDED, (b) => s.evict(b.sessionUuid));
    ctx.bus.registerService(
      serviceFromHandlers('identity', {
        [IdentityMessages.authenticate]: async (msg: Message<{ sessionUuid: string }>) => s.authenticate(msg.body.sessionUuid),
        LogInByAccount: async (msg: Message<ApiParams<typeof LogInByAccount>>) => s.logIn(msg.body.accountName, msg.body.password),
        LogOut: async (msg: Message<ApiParams<typeof LogOut>>) => {
          await s.logOut(msg.body.sessionUuid);
          await ctx.bus.publish(SESSION_ENDED, { sessionUuid: msg.body.sessionUuid });
          return {};
        },
        ValidateSession: async (msg: Message<ApiParams<typeof ValidateSession>>) => ({ valid: await s.isValid(msg.body.sessionUuid) }),
        RenewSession: async (msg: Message<ApiParams<typeof RenewSession>>) => {
          const inv = await s.renew(msg.body.sessionUuid, msg.body.duration);
          await ctx.bus.publish(SESSION_ENDED, { sessionUuid: msg.body.sessionUuid });
          return inv;
        },
      }),
    );
  },
  async start(ctx) {
    await sessionsOf.get(ctx)?.ensureAdmin();
  },
};
