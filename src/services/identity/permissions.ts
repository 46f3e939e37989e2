import type { PermissionQuery } from '../../contracts/identity.ts';
import { isAccountItself, isAdmin } from '../../contracts/identity.ts';
import type { Caller } from '../../core/bus/context.ts';
import { IdentityErrors, StratoError } from '../../core/errors/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { ActionNames, evaluate, type PolicyStatement } from './policy.ts';

/** APIs a user may call on itself without any policy: changing its own password, making its own access keys. */
const SELF_SERVICE = new Set(['UpdateUser', 'CreateAccessKey']);
/** …and disabling, enabling or deleting its own access keys. */
const OWN_KEY_SERVICE = new Set(['ChangeAccessKeyState', 'DeleteAccessKey']);

/**
 * Decides whether a caller may run an API (the permission interceptor asks, once per API call):
 * - administrators may do everything;
 * - admin-only APIs are refused to everybody else;
 * - a normal account may call every other API (what it may reach is the ownership service's business);
 * - a user is bound by the policies attached to it and to its groups: a matching Deny refuses,
 *   otherwise a matching Allow permits; with neither, a user may only read (queries and GETs).
 * A user's statements are cached per node until `identity.permissionsChanged` names its account, and
 * for at most `cacheMs` (1 s), so a change reaches a node whose event was lost or late.
 */
export class Permissions {
  readonly #statements = new Map<string, { accountUuid: string; statements: PolicyStatement[]; readAt: number }>();
  #names: ActionNames | undefined;

  constructor(
    private readonly ctx: NodeContext,
    private readonly cacheMs = 1000,
  ) {}

  actionName(apiName: string): string {
    this.#names ??= new ActionNames(this.ctx.apis.all(), (inv) => this.ctx.inventories.find(inv)?.className);
    return this.#names.of(apiName);
  }

  async check(caller: Caller | undefined, q: PermissionQuery): Promise<void> {
    const api = this.ctx.apis.find(q.apiName);
    if (!api || api.noSession) return;
    if (!caller) throw new StratoError(IdentityErrors.INVALID_SESSION, `${q.apiName} needs a session`);
    if (isAdmin(caller)) return;
    if (api.adminOnly) throw denied(q.apiName, 'it is for administrators only');
    if (isAccountItself(caller)) return;
    const decision = evaluate(await this.#statementsOf(caller), this.actionName(q.apiName), q.resourceUuid);
    if (decision === 'Deny') throw denied(q.apiName, 'a policy denies it');
    if (decision === 'Allow') return;
    if (api.method === 'GET') return;
    if (SELF_SERVICE.has(q.apiName) && q.targetUserUuid === caller.userUuid) return;
    if (OWN_KEY_SERVICE.has(q.apiName) && q.resourceUuid && (await this.#keyOwner(q.resourceUuid)) === caller.userUuid) return;
    throw denied(q.apiName, 'no policy of the user allows it');
  }

  /** Forget cached statements of this account's users (their policies or groups changed). */
  forgetAccount(accountUuid: string): void {
    for (const [user, v] of this.#statements) if (v.accountUuid === accountUuid) this.#statements.delete(user);
  }

  async #keyOwner(keyUuid: string): Promise<string | undefined> {
    const row = await this.ctx.db.selectFrom('access_key').select('userUuid').where('uuid', '=', keyUuid).executeTakeFirst();
    return row ? String(row.userUuid) : undefined;
  }

  async #statementsOf(caller: Caller): Promise<PolicyStatement[]> {
    const now = Date.now();
    const hit = this.#statements.get(caller.userUuid);
    if (hit && now - hit.readAt < this.cacheMs) return hit.statements;
    const { db } = this.ctx;
    const direct = db.selectFrom('user_policy_ref').select('policyUuid').where('userUuid', '=', caller.userUuid);
    const viaGroups = db.selectFrom('user_group_policy_ref').innerJoin('user_group_user_ref', 'user_group_user_ref.groupUuid', 'user_group_policy_ref.groupUuid').select('user_group_policy_ref.policyUuid as policyUuid').where('user_group_user_ref.userUuid', '=', caller.userUuid);
    const rows = await db.selectFrom('policy').select('statements').where((eb) => eb.or([eb('uuid', 'in', direct), eb('uuid', 'in', viaGroups)])).execute();
    const statements = rows.flatMap((r) => JSON.parse(String(r.statements)) as PolicyStatement[]);
    if (this.#statements.size > 10_000) this.#statements.clear();
    this.#statements.set(caller.userUuid, { accountUuid: caller.accountUuid, statements, readAt: now });
    return statements;
  }
}

function denied(apiName: string, why: string): StratoError {
  return new StratoError(IdentityErrors.PERMISSION_DENIED, `permission denied for ${apiName}: ${why}`);
}
