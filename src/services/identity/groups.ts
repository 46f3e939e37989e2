import { IdentityEvents } from '../../contracts/identity.ts';
import type { ApiParams } from '../../core/api/define-api.ts';
import type { Message } from '../../core/bus/index.ts';
import type { CascadeEntry } from '../../core/cascade/index.ts';
import { isUniqueViolation } from '../../core/db/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import { rowToInventory } from '../../core/query/inventory.ts';
import { findRow, loadInventory, patchRow } from '../../core/resource/resource-store.ts';
import { newUuid } from '../../core/util/uuid.ts';
import { accountQueue, type IdentityDeps } from './accounts.ts';
import type { AddUserToGroup, AttachPolicyToUser, AttachPolicyToUserGroup, CreatePolicy, CreateUserGroup, DeletePolicy, DeleteUserGroup, DetachPolicyFromUser, DetachPolicyFromUserGroup, RemoveUserFromGroup, UpdateUserGroup } from './apis.ts';
import { inAccount, loadOwnedRow, requireCaller } from './ownership.ts';
import type { PolicyStatement } from './policy.ts';
import { PolicyInventory, UserGroupInventory, UserInventory } from './schema.ts';

/** A policy with its statements (the query engine has no list fields; this reply has them). */
export function policyView(row: Record<string, unknown>): Record<string, unknown> {
  return { ...rowToInventory(PolicyInventory, row), statements: JSON.parse(String(row.statements)) as PolicyStatement[] };
}

/** User groups, memberships and policies; every change tells the permission caches of the account. */
export function groupHandlers(deps: IdentityDeps) {
  const { db, queues, cascade, bus } = deps.ctx;
  const changed = (accountUuid: string) => bus.publish(IdentityEvents.permissionsChanged, { accountUuid });

  /** Both ends of a link must be reachable by the caller and in the same account. */
  async function pair(caller: Parameters<typeof loadOwnedRow>[3], a: [typeof UserInventory, string], b: [typeof UserInventory, string]) {
    const x = await loadOwnedRow(db, a[0], a[1], caller);
    const y = await loadOwnedRow(db, b[0], b[1], caller);
    if (x.accountUuid !== y.accountUuid) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `${a[0].resourceType}[uuid:${a[1]}] and ${b[0].resourceType}[uuid:${b[1]}] belong to different accounts`);
    return String(x.accountUuid);
  }

  async function link(table: string, values: Record<string, string>, accountUuid: string) {
    const now = Date.now();
    await db.insertInto(table).values({ ...values, createDate: now, lastOpDate: now }).execute().catch((e: unknown) => {
      if (!isUniqueViolation(e)) throw e; // already linked: attaching twice is not an error
    });
    await changed(accountUuid);
    return {};
  }

  async function unlink(table: string, where: Record<string, string>, accountUuid: string) {
    let q = db.deleteFrom(table);
    for (const [k, v] of Object.entries(where)) q = q.where(k, '=', v);
    await q.execute();
    await changed(accountUuid);
    return {};
  }

  return {
    async CreateUserGroup(msg: Message<ApiParams<typeof CreateUserGroup>>) {
      const p = msg.body;
      const caller = requireCaller(msg.caller);
      const uuid = p.resourceUuid ?? newUuid();
      return inAccount(db, queues, caller.accountUuid, async () => {
        const now = Date.now();
        await db.insertInto('user_group').values({ uuid, accountUuid: caller.accountUuid, name: p.name, description: p.description ?? null, createDate: now, lastOpDate: now }).execute();
        return loadInventory(db, UserGroupInventory, uuid);
      });
    },

    async UpdateUserGroup(msg: Message<ApiParams<typeof UpdateUserGroup>>) {
      const p = msg.body;
      await loadOwnedRow(db, UserGroupInventory, p.uuid, msg.caller);
      return patchRow(db, UserGroupInventory, p.uuid, { name: p.name, description: p.description });
    },

    async DeleteUserGroup(msg: Message<ApiParams<typeof DeleteUserGroup>>) {
      const p = msg.body;
      if (!(await findRow(db, UserGroupInventory, p.uuid))) return {};
      const row = await loadOwnedRow(db, UserGroupInventory, p.uuid, msg.caller);
      return queues.submit(accountQueue(String(row.accountUuid)), async () => {
        await cascade.delete({ resource: 'UserGroupVO', uuids: [p.uuid], mode: p.deleteMode ?? 'Permissive', data: { caller: msg.caller } });
        return {};
      });
    },

    async AddUserToGroup(msg: Message<ApiParams<typeof AddUserToGroup>>) {
      const p = msg.body;
      const account = await pair(msg.caller, [UserGroupInventory, p.groupUuid], [UserInventory, p.userUuid]);
      return queues.submit(accountQueue(account), () => link('user_group_user_ref', { groupUuid: p.groupUuid, userUuid: p.userUuid }, account));
    },

    async RemoveUserFromGroup(msg: Message<ApiParams<typeof RemoveUserFromGroup>>) {
      const p = msg.body;
      const account = await pair(msg.caller, [UserGroupInventory, p.groupUuid], [UserInventory, p.userUuid]);
      return queues.submit(accountQueue(account), () => unlink('user_group_user_ref', { groupUuid: p.groupUuid, userUuid: p.userUuid }, account));
    },

    async CreatePolicy(msg: Message<ApiParams<typeof CreatePolicy>>) {
      const p = msg.body;
      const caller = requireCaller(msg.caller);
      const uuid = p.resourceUuid ?? newUuid();
      const statements: PolicyStatement[] = p.statements.map((s) => ({ ...s }));
      return inAccount(db, queues, caller.accountUuid, async () => {
        const now = Date.now();
        await db.insertInto('policy').values({ uuid, accountUuid: caller.accountUuid, name: p.name, description: p.description ?? null, statements: JSON.stringify(statements), createDate: now, lastOpDate: now }).execute();
        return policyView((await findRow(db, PolicyInventory, uuid))!);
      });
    },

    async DeletePolicy(msg: Message<ApiParams<typeof DeletePolicy>>) {
      const p = msg.body;
      if (!(await findRow(db, PolicyInventory, p.uuid))) return {};
      const row = await loadOwnedRow(db, PolicyInventory, p.uuid, msg.caller);
      return queues.submit(accountQueue(String(row.accountUuid)), async () => {
        await cascade.delete({ resource: 'PolicyVO', uuids: [p.uuid], mode: p.deleteMode ?? 'Permissive', data: { caller: msg.caller } });
        return {};
      });
    },

    async AttachPolicyToUser(msg: Message<ApiParams<typeof AttachPolicyToUser>>) {
      const p = msg.body;
      const account = await pair(msg.caller, [PolicyInventory, p.policyUuid], [UserInventory, p.userUuid]);
      return queues.submit(accountQueue(account), () => link('user_policy_ref', { policyUuid: p.policyUuid, userUuid: p.userUuid }, account));
    },

    async DetachPolicyFromUser(msg: Message<ApiParams<typeof DetachPolicyFromUser>>) {
      const p = msg.body;
      const account = await pair(msg.caller, [PolicyInventory, p.policyUuid], [UserInventory, p.userUuid]);
      return queues.submit(accountQueue(account), () => unlink('user_policy_ref', { policyUuid: p.policyUuid, userUuid: p.userUuid }, account));
    },

    async AttachPolicyToUserGroup(msg: Message<ApiParams<typeof AttachPolicyToUserGroup>>) {
      const p = msg.body;
      const account = await pair(msg.caller, [PolicyInventory, p.policyUuid], [UserGroupInventory, p.groupUuid]);
      return queues.submit(accountQueue(account), () => link('user_group_policy_ref', { policyUuid: p.policyUuid, groupUuid: p.groupUuid }, account));
    },

    async DetachPolicyFromUserGroup(msg: Message<ApiParams<typeof DetachPolicyFromUserGroup>>) {
      const p = msg.body;
      const account = await pair(msg.caller, [PolicyInventory, p.policyUuid], [UserGroupInventory, p.groupUuid]);
      return queues.submit(accountQueue(account), () => unlink('user_group_policy_ref', { policyUuid: p.policyUuid, groupUuid: p.groupUuid }, account));
    },
  };
}

/** Groups and policies hang under their account; deleting one removes its links first. */
export function groupCascadeEntries(deps: IdentityDeps): CascadeEntry[] {
  const { db, tags, bus } = deps.ctx;
  const ofAccounts = (table: string) => async (_parent: string, accountUuids: string[]) => (await db.selectFrom(table).select('uuid').where('accountUuid', 'in', accountUuids).execute()).map((r) => r.uuid as string);
  const remove = (table: string, refs: Array<[string, string]>) => async (uuids: string[]) => {
    const accounts = (await db.selectFrom(table).select('accountUuid').distinct().where('uuid', 'in', uuids).execute()).map((r) => r.accountUuid as string);
    for (const [refTable, column] of refs) await db.deleteFrom(refTable).where(column, 'in', uuids).execute();
    await db.deleteFrom(table).where('uuid', 'in', uuids).execute();
    await tags.deleteForResources(uuids);
    for (const accountUuid of accounts) await bus.publish(IdentityEvents.permissionsChanged, { accountUuid });
  };
  return [
    { resource: 'UserGroupVO', parents: ['AccountVO'], children: ofAccounts('user_group'), delete: remove('user_group', [['user_group_user_ref', 'groupUuid'], ['user_group_policy_ref', 'groupUuid']]) },
    { resource: 'PolicyVO', parents: ['AccountVO'], children: ofAccounts('policy'), delete: remove('policy', [['user_policy_ref', 'policyUuid'], ['user_group_policy_ref', 'policyUuid']]) },
  ];
}
