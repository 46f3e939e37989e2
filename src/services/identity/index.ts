import { IdentityEvents, IdentityMessages, type AccessKeyRequest, type PermissionQuery } from '../../contracts/identity.ts';
import type { ApiParams } from '../../core/api/define-api.ts';
import { serviceFromHandlers, type Message } from '../../core/bus/index.ts';
import type { NodeContext, ServiceModule } from '../../core/node-context.ts';
import { accessKeyCascadeEntry, accessKeyHandlers, authenticateAccessKey } from './access-keys.ts';
import { accountCascadeEntries, accountHandlers, type IdentityDeps } from './accounts.ts';
import type { LogInByAccount, LogInByUser, LogOut, RenewSession, ValidateSession } from './apis.ts';
import { identityApis } from './apis.ts';
import { groupCascadeEntries, groupHandlers } from './groups.ts';
import { LoginGuard } from './login-guard.ts';
import { Permissions } from './permissions.ts';
import { AccessKeyInventory, AccountInventory, identityMigration, identityUsersMigration, PolicyInventory, SessionInventory, UserGroupInventory, UserGroupUserRefInventory, UserInventory } from './schema.ts';
import { Sessions } from './sessions.ts';

/** One Sessions per node (several nodes may share a process in tests). */
const sessionsOf = new WeakMap<object, Sessions>();

/** Accounts, users, groups, policies, sessions and access keys: who may call, and as whom. */
export const identityService: ServiceModule = {
  id: 'identity',
  migrations: [identityMigration, identityUsersMigration],
  inventories: [AccountInventory, SessionInventory, UserInventory, UserGroupInventory, UserGroupUserRefInventory, PolicyInventory, AccessKeyInventory],
  apis: identityApis,
  setup(ctx) {
    const cfg = defineConfig(ctx);
    const guard = new LoginGuard(ctx.db, cfg.maxFailures, cfg.lockSeconds);
    const s = new Sessions(ctx.db, cfg.timeout, { cleanupIntervalSeconds: cfg.cleanupInterval, maxConcurrent: cfg.maxConcurrent, guard, serialize: (key, task) => ctx.queues.submit(key, task), log: ctx.log.child({ component: 'sessions' }) });
    sessionsOf.set(ctx, s);
    const deps: IdentityDeps = { ctx, sessions: s, guard };
    const permissions = new Permissions(ctx);
    // A logout on any node evicts the session from every node's cache at once; policy changes likewise.
    ctx.bus.subscribe<{ sessionUuid: string }>(IdentityEvents.sessionEnded, (b) => s.evict(b.sessionUuid));
    ctx.bus.subscribe<{ accountUuid: string }>(IdentityEvents.permissionsChanged, (b) => permissions.forgetAccount(b.accountUuid));
    for (const entry of [...accountCascadeEntries(deps), ...groupCascadeEntries(deps), accessKeyCascadeEntry(deps)]) ctx.cascade.register(entry);
    ctx.bus.registerService(
      serviceFromHandlers('identity', {
        [IdentityMessages.authenticate]: async (msg: Message<{ sessionUuid: string }>) => s.authenticate(msg.body.sessionUuid),
        [IdentityMessages.authenticateAccessKey]: async (msg: Message<AccessKeyRequest>) => authenticateAccessKey(deps, cfg.maxSkew, msg.body),
        [IdentityMessages.checkPermission]: async (msg: Message<PermissionQuery>) => {
          await permissions.check(msg.caller, msg.body);
          return {};
        },
        LogInByAccount: async (msg: Message<ApiParams<typeof LogInByAccount>>) => s.logIn(msg.body.accountName, msg.body.password),
        LogInByUser: async (msg: Message<ApiParams<typeof LogInByUser>>) => s.logInByUser({ accountUuid: msg.body.accountUuid, accountName: msg.body.accountName }, msg.body.userName, msg.body.password),
        LogOut: async (msg: Message<ApiParams<typeof LogOut>>) => {
          await s.logOut(msg.body.sessionUuid);
          await ctx.bus.publish(IdentityEvents.sessionEnded, { sessionUuid: msg.body.sessionUuid });
          return {};
        },
        ValidateSession: async (msg: Message<ApiParams<typeof ValidateSession>>) => ({ valid: await s.isValid(msg.body.sessionUuid) }),
        RenewSession: async (msg: Message<ApiParams<typeof RenewSession>>) => {
          const inv = await s.renew(msg.body.sessionUuid, msg.body.duration);
          await ctx.bus.publish(IdentityEvents.sessionEnded, { sessionUuid: msg.body.sessionUuid });
          return inv;
        },
        ...accountHandlers(deps),
        ...groupHandlers(deps),
        ...accessKeyHandlers(deps),
      }),
    );
  },
  async start(ctx) {
    await sessionsOf.get(ctx)?.ensureAdmin();
  },
};

function defineConfig(ctx: NodeContext) {
  const d = (name: string, defaultValue: number, min: number, max: number, description: string) => ctx.config.define({ category: 'identity', name, type: 'number', defaultValue, min, max, description });
  return {
    timeout: d('session.timeout', 7200, 60, 31536000, 'seconds a session lives without renewal'),
    cleanupInterval: d('session.cleanup.interval', 3600, 1, 31536000, 'seconds between deletions of expired sessions'),
    maxConcurrent: d('session.maxConcurrent', 500, 1, 100000, 'open sessions an account or a user may have at once'),
    maxFailures: d('login.maxFailures', 5, 1, 1000, 'wrong passwords in a row before an account or user is locked out'),
    lockSeconds: d('login.lockSeconds', 300, 1, 86400, 'seconds a locked-out account or user must wait'),
    maxSkew: d('accessKey.maxClockSkew', 900, 1, 86400, "seconds a signed request's Date may differ from the server clock"),
  };
}
