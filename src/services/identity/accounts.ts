import { IdentityEvents, isAccountItself, isAdmin, type AccountDeletionData } from '../../contracts/identity.ts';
import type { ApiParams } from '../../core/api/define-api.ts';
import type { Message } from '../../core/bus/index.ts';
import type { CascadeEntry } from '../../core/cascade/index.ts';
import { isUniqueViolation } from '../../core/db/index.ts';
import { IdentityErrors, StratoError, SysErrors } from '../../core/errors/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import type { NormalizedInventoryDef } from '../../core/query/inventory.ts';
import { findRow, loadInventory } from '../../core/resource/resource-store.ts';
import { newUuid } from '../../core/util/uuid.ts';
import type { CreateAccount, CreateUser, DeleteAccount, DeleteUser, UpdateAccount, UpdateUser } from './apis.ts';
import { accountPrincipal, userPrincipal, type LoginGuard } from './login-guard.ts';
import { inAccount, loadOwnedRow, requireCaller } from './ownership.ts';
import { hashSecret, verifySecret } from './password.ts';
import { AccountInventory, ADMIN_ACCOUNT_UUID, UserInventory } from './schema.ts';
import type { Sessions } from './sessions.ts';

/** Everything on an account runs in its queue: a user is never created into an account being deleted. */
export const accountQueue = (accountUuid: string) => `account-${accountUuid}`; // the same queue as ownership.ts's inAccount

export interface IdentityDeps {
  ctx: NodeContext;
  sessions: Sessions;
  guard: LoginGuard;
}

/** Ends sessions on every node at once. */
export async function endSessions(deps: IdentityDeps, userUuids: string[]): Promise<void> {
  for (const sessionUuid of await deps.sessions.endSessionsOf(userUuids)) await deps.ctx.bus.publish(IdentityEvents.sessionEnded, { sessionUuid });
}

/**
 * A password change: the principal itself proves it knows the old password; its account (for a
 * user) or an administrator resets it without. A reset ends the principal's sessions.
 */
async function newPasswordHash(self: boolean, stored: string, p: { password?: string; oldPassword?: string }): Promise<{ hash?: string; reset: boolean }> {
  if (p.password === undefined) return { reset: false };
  if (self) {
    if (p.oldPassword === undefined || !(await verifySecret(p.oldPassword.toLowerCase(), stored))) throw new StratoError(IdentityErrors.AUTHENTICATION_ERROR, 'the old password is wrong or missing');
    return { hash: await hashSecret(p.password.toLowerCase()), reset: false };
  }
  return { hash: await hashSecret(p.password.toLowerCase()), reset: true };
}

function nameTaken(what: string, name: string): StratoError {
  return new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `a ${what} named ${name} already exists`);
}

export function accountHandlers(deps: IdentityDeps) {
  const { ctx } = deps;
  const { db, queues, cascade } = ctx;
  const load = (inv: NormalizedInventoryDef, uuid: string) => loadInventory(db, inv, uuid);

  return {
    async CreateAccount(msg: Message<ApiParams<typeof CreateAccount>>) {
      const p = msg.body;
      const uuid = p.resourceUuid ?? newUuid();
      const now = Date.now();
      try {
        await db.insertInto('account').values({ uuid, name: p.name, type: p.type ?? 'Normal', description: p.description ?? null, passwordHash: await hashSecret(p.password.toLowerCase()), createDate: now, lastOpDate: now }).execute();
      } catch (e) {
        if (isUniqueViolation(e)) throw nameTaken('account', p.name);
        throw e;
      }
      return load(AccountInventory, uuid);
    },

    async UpdateAccount(msg: Message<ApiParams<typeof UpdateAccount>>) {
      const p = msg.body;
      const caller = requireCaller(msg.caller);
      return queues.submit(accountQueue(p.uuid), async () => {
        const row = await loadOwnedRow(db, AccountInventory, p.uuid, caller);
        const self = caller.accountUuid === p.uuid && isAccountItself(caller);
        const pw = await newPasswordHash(self || (!isAdmin(caller) && caller.accountUuid === p.uuid), String(row.passwordHash), p);
        try {
          await db.updateTable('account').set(defined({ name: p.name, description: p.description, passwordHash: pw.hash, lastOpDate: Date.now() })).where('uuid', '=', p.uuid).execute();
        } catch (e) {
          if (isUniqueViolation(e)) throw nameTaken('account', p.name ?? '');
          throw e;
        }
        if (pw.hash) await deps.guard.forget([accountPrincipal(p.uuid)]);
        if (pw.reset) await endSessions(deps, [p.uuid]);
        return load(AccountInventory, p.uuid);
      });
    },

    async DeleteAccount(msg: Message<ApiParams<typeof DeleteAccount>>) {
      const p = msg.body;
      if (p.uuid === ADMIN_ACCOUNT_UUID) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, 'the initial administrator account cannot be deleted');
      return queues.submit(accountQueue(p.uuid), async () => {
        if (!(await findRow(db, AccountInventory, p.uuid))) return {};
        const mode = p.deleteMode ?? 'Permissive';
        const data: AccountDeletionData = { caller: msg.caller };
        const result = await cascade.delete({ resource: 'AccountVO', uuids: [p.uuid], mode, data });
        if (result.errors.length && mode === 'Permissive') throw new StratoError(SysErrors.DELETE_RESOURCE_ERROR, `failed to delete account ${p.uuid}`, { cause: result.errors[0].error });
        return {};
      });
    },

    async CreateUser(msg: Message<ApiParams<typeof CreateUser>>) {
      const p = msg.body;
      const caller = requireCaller(msg.caller);
      const uuid = p.resourceUuid ?? newUuid();
      return inAccount(db, queues, caller.accountUuid, async () => {
        const now = Date.now();
        try {
          await db.insertInto('account_user').values({ uuid, accountUuid: caller.accountUuid, name: p.name, description: p.description ?? null, passwordHash: await hashSecret(p.password.toLowerCase()), createDate: now, lastOpDate: now }).execute();
        } catch (e) {
          if (isUniqueViolation(e)) throw nameTaken('user', p.name);
          throw e;
        }
        return load(UserInventory, uuid);
      });
    },

    async UpdateUser(msg: Message<ApiParams<typeof UpdateUser>>) {
      const p = msg.body;
      const caller = requireCaller(msg.caller);
      const uuid = p.uuid ?? (isAccountItself(caller) ? undefined : caller.userUuid);
      if (!uuid) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, 'uuid is required: the caller is an account, not a user');
      const row = await loadOwnedRow(db, UserInventory, uuid, caller);
      return queues.submit(accountQueue(String(row.accountUuid)), async () => {
        const current = await loadOwnedRow(db, UserInventory, uuid, caller);
        const pw = await newPasswordHash(caller.userUuid === uuid, String(current.passwordHash), p);
        try {
          await db.updateTable('account_user').set(defined({ name: p.name, description: p.description, passwordHash: pw.hash, lastOpDate: Date.now() })).where('uuid', '=', uuid).execute();
        } catch (e) {
          if (isUniqueViolation(e)) throw nameTaken('user', p.name ?? '');
          throw e;
        }
        if (pw.hash) await deps.guard.forget([userPrincipal(uuid)]);
        if (pw.reset) await endSessions(deps, [uuid]);
        return load(UserInventory, uuid);
      });
    },

    async DeleteUser(msg: Message<ApiParams<typeof DeleteUser>>) {
      const p = msg.body;
      const row = await findRow(db, UserInventory, p.uuid);
      if (!row) return {};
      await loadOwnedRow(db, UserInventory, p.uuid, msg.caller);
      return queues.submit(accountQueue(String(row.accountUuid)), async () => {
        const mode = p.deleteMode ?? 'Permissive';
        const result = await cascade.delete({ resource: 'UserVO', uuids: [p.uuid], mode, data: { caller: msg.caller } });
        if (result.errors.length && mode === 'Permissive') throw new StratoError(SysErrors.DELETE_RESOURCE_ERROR, `failed to delete user ${p.uuid}`, { cause: result.errors[0].error });
        return {};
      });
    },
  };
}

/** The account and its users in the cascade graph; what the account owns joins below `AccountVO` (contracts/identity.ts). */
export function accountCascadeEntries(deps: IdentityDeps): CascadeEntry[] {
  const { db, tags, bus } = deps.ctx;
  return [
    {
      resource: 'AccountVO',
      parents: [],
      async delete(uuids) {
        await endSessions(deps, uuids);
        await deps.guard.forget(uuids.map(accountPrincipal));
        await db.deleteFrom('session').where('accountUuid', 'in', uuids).execute();
        await db.deleteFrom('account').where('uuid', 'in', uuids).execute();
        await tags.deleteForResources(uuids);
        for (const uuid of uuids) {
          await bus.publish(IdentityEvents.permissionsChanged, { accountUuid: uuid });
          await bus.publish(IdentityEvents.accountDeleted, { uuid });
        }
      },
    },
    {
      resource: 'UserVO',
      parents: ['AccountVO'],
      children: async (_parent, accountUuids) => (await db.selectFrom('account_user').select('uuid').where('accountUuid', 'in', accountUuids).execute()).map((r) => r.uuid as string),
      async delete(uuids) {
        const accounts = (await db.selectFrom('account_user').select('accountUuid').distinct().where('uuid', 'in', uuids).execute()).map((r) => r.accountUuid as string);
        await endSessions(deps, uuids);
        await deps.guard.forget(uuids.map(userPrincipal));
        await db.deleteFrom('user_group_user_ref').where('userUuid', 'in', uuids).execute();
        await db.deleteFrom('user_policy_ref').where('userUuid', 'in', uuids).execute();
        await db.deleteFrom('account_user').where('uuid', 'in', uuids).execute();
        await tags.deleteForResources(uuids);
        for (const accountUuid of accounts) await bus.publish(IdentityEvents.permissionsChanged, { accountUuid });
      },
    },
  ];
}

/** Leaves out what the caller did not give, so an update touches only those columns. */
function defined(values: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined));
}
