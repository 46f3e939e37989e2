import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Caller } from '../../core/bus/context.ts';
import type { ConfigHandle } from '../../core/config/index.ts';
import { IdentityErrors, StratoError, SysErrors } from '../../core/errors/index.ts';
import { rowToInventory } from '../../core/query/inventory.ts';
import { isUuid, newUuid } from '../../core/util/uuid.ts';
import { accountPrincipal, userPrincipal, type LoginGuard } from './login-guard.ts';
import { hashSecret, verifySecret } from './password.ts';
import { ADMIN_ACCOUNT_UUID, INITIAL_ADMIN_PASSWORD_SHA512, SessionInventory } from './schema.ts';

/**
 * Accounts' credentials and sessions. Sessions are rows, so every node sees a logout at once;
 * a small per-node cache keeps hot sessions off the database and is evicted by the
 * `identity.sessionEnded` event on every node.
 */
export interface SessionsOptions {
  /** How long a validated session may be served from memory before the database is asked again. */
  cacheMs?: number;
  /** Seconds between purges of expired sessions (ZStack's `identity.session.cleanup.interval`). */
  cleanupIntervalSeconds?: ConfigHandle<number>;
  /** At most this many open sessions per account or user (ZStack's `identity.session.maxConcurrent`). */
  maxConcurrent?: ConfigHandle<number>;
  /** Counts failed logins and locks principals out. */
  guard?: LoginGuard;
  /**
   * Runs a user's session-cap check and insert one at a time (the node's work queue), so concurrent
   * logins cannot both see room for one more. Without it the cap is checked without serialization.
   */
  serialize?: <T>(key: string, task: () => Promise<T>) => Promise<T>;
  log?: Logger;
}

export class Sessions {
  readonly #cache = new Map<string, { caller: Caller; expiredDate: number; checkedAt: number }>();
  readonly #cacheMs: number;
  #lastPurge = 0;

  constructor(
    private readonly db: Kysely<any>,
    private readonly timeoutSeconds: ConfigHandle<number>,
    private readonly opts: SessionsOptions = {},
  ) {
    this.#cacheMs = opts.cacheMs ?? 1000;
  }

  /** Creates the initial `admin` account (password `password`) on a fresh database. */
  async ensureAdmin(): Promise<void> {
    const exists = await this.db.selectFrom('account').select('uuid').where('uuid', '=', ADMIN_ACCOUNT_UUID).executeTakeFirst();
    if (exists) return;
    const now = Date.now();
    await this.db.insertInto('account').values({ uuid: ADMIN_ACCOUNT_UUID, name: 'admin', type: 'SystemAdmin', description: 'the initial administrator', passwordHash: await hashSecret(INITIAL_ADMIN_PASSWORD_SHA512.toLowerCase()), createDate: now, lastOpDate: now }).execute().catch(async (e) => {
      // another node created it at the same moment
      if (!(await this.db.selectFrom('account').select('uuid').where('uuid', '=', ADMIN_ACCOUNT_UUID).executeTakeFirst())) throw e;
    });
  }

  async logIn(accountName: string, passwordSha512: string): Promise<Record<string, unknown>> {
    const account = await this.db.selectFrom('account').select(['uuid', 'passwordHash']).where('name', '=', accountName).executeTakeFirst();
    return this.#logInAs(account ? { accountUuid: account.uuid, userUuid: account.uuid, userType: 'AccountVO', passwordHash: account.passwordHash, principal: accountPrincipal(account.uuid) } : undefined, passwordSha512);
  }

  /** ZStack's logInByUser: the account is named by uuid or by name, the user by name inside it. */
  async logInByUser(account: { accountUuid?: string; accountName?: string }, userName: string, passwordSha512: string): Promise<Record<string, unknown>> {
    if (!account.accountUuid && !account.accountName) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, 'accountName or accountUuid is required');
    let q = this.db.selectFrom('account_user').innerJoin('account', 'account.uuid', 'account_user.accountUuid').select(['account_user.uuid as uuid', 'account_user.accountUuid as accountUuid', 'account_user.passwordHash as passwordHash']).where('account_user.name', '=', userName);
    if (account.accountUuid) q = q.where('account.uuid', '=', account.accountUuid);
    if (account.accountName) q = q.where('account.name', '=', account.accountName);
    const user = await q.executeTakeFirst();
    return this.#logInAs(user ? { accountUuid: user.accountUuid, userUuid: user.uuid, userType: 'UserVO', passwordHash: user.passwordHash, principal: userPrincipal(user.uuid) } : undefined, passwordSha512);
  }

  async #logInAs(who: { accountUuid: string; userUuid: string; userType: string; passwordHash: string; principal: string } | undefined, passwordSha512: string): Promise<Record<string, unknown>> {
    // Same answer for an unknown name and a wrong password: names are not disclosed.
    const refused = () => new StratoError(IdentityErrors.AUTHENTICATION_ERROR, 'wrong name or password');
    if (!who) {
      await verifySecret(passwordSha512, DUMMY_HASH); // as slow as a real check: timing does not tell names apart
      throw refused();
    }
    await this.opts.guard?.checkNotLocked(who.principal);
    if (!(await verifySecret(passwordSha512.toLowerCase(), who.passwordHash))) {
      await this.opts.guard?.recordFailure(who.principal);
      throw refused();
    }
    await this.opts.guard?.recordSuccess(who.principal);
    const openSession = async () => {
      const now = Date.now();
      const max = this.opts.maxConcurrent?.get();
      if (max !== undefined) {
        const open = await this.db.selectFrom('session').select((eb) => eb.fn.countAll().as('n')).where('userUuid', '=', who.userUuid).where('expiredDate', '>', now).executeTakeFirstOrThrow();
        if (Number(open.n) >= max) throw new StratoError(IdentityErrors.AUTHENTICATION_ERROR, `already ${max} open sessions (identity.session.maxConcurrent): log out of one first`);
      }
      const row = { uuid: newUuid(), accountUuid: who.accountUuid, userUuid: who.userUuid, userType: who.userType, expiredDate: now + this.timeoutSeconds.get() * 1000, createDate: now, lastOpDate: now };
      await this.db.insertInto('session').values(row).execute();
      return row;
    };
    const row = this.opts.serialize ? await this.opts.serialize(`session-cap-${who.userUuid}`, openSession) : await openSession();
    this.#purgeIfDue(row.createDate);
    return rowToInventory(SessionInventory, row);
  }

  /** Deletes every session of these users (or accounts); returns their uuids so every node can evict them. */
  async endSessionsOf(userUuids: string[]): Promise<string[]> {
    if (userUuids.length === 0) return [];
    const rows = await this.db.selectFrom('session').select('uuid').where('userUuid', 'in', userUuids).execute();
    const uuids = rows.map((r) => r.uuid as string);
    if (uuids.length) await this.db.deleteFrom('session').where('uuid', 'in', uuids).execute();
    for (const u of uuids) this.evict(u);
    return uuids;
  }

  /**
   * Sessions only pile up through logins, so logins drive their cleanup: no timer to start or stop
   * per node. The purge runs in the background; the login does not wait for it.
   */
  #purgeIfDue(now: number): void {
    const interval = (this.opts.cleanupIntervalSeconds?.get() ?? 3600) * 1000;
    if (now - this.#lastPurge < interval) return;
    this.#lastPurge = now;
    this.purgeExpired(now).then(
      (n) => n && this.opts.log?.debug({ purged: n }, 'deleted expired sessions'),
      (err) => this.opts.log?.warn({ err }, 'failed to delete expired sessions'),
    );
  }

  /** The caller behind a session; ID.1002 when it does not exist or has expired. */
  async authenticate(sessionUuid: string, now = Date.now()): Promise<Caller> {
    const hit = this.#cache.get(sessionUuid);
    if (hit && now - hit.checkedAt < this.#cacheMs && hit.expiredDate > now) return hit.caller;
    if (!isUuid(sessionUuid)) throw invalidSession(sessionUuid);
    const row = await this.db
      .selectFrom('session')
      .innerJoin('account', 'account.uuid', 'session.accountUuid')
      .select(['session.uuid as uuid', 'session.accountUuid as accountUuid', 'session.userUuid as userUuid', 'session.expiredDate as expiredDate', 'account.type as accountType'])
      .where('session.uuid', '=', sessionUuid)
      .executeTakeFirst();
    if (!row || Number(row.expiredDate) <= now) {
      this.#cache.delete(sessionUuid);
      throw invalidSession(sessionUuid);
    }
    const caller: Caller = { sessionUuid, accountUuid: row.accountUuid, userUuid: row.userUuid, accountType: row.accountType === 'SystemAdmin' ? 'SystemAdmin' : 'Normal' };
    this.#cache.set(sessionUuid, { caller, expiredDate: Number(row.expiredDate), checkedAt: now });
    if (this.#cache.size > 100_000) this.#cache.clear();
    return caller;
  }

  async isValid(sessionUuid: string): Promise<boolean> {
    try {
      this.evict(sessionUuid);
      await this.authenticate(sessionUuid);
      return true;
    } catch {
      return false;
    }
  }

  async logOut(sessionUuid: string): Promise<void> {
    this.evict(sessionUuid);
    if (isUuid(sessionUuid)) await this.db.deleteFrom('session').where('uuid', '=', sessionUuid).execute();
  }

  async renew(sessionUuid: string, durationSeconds?: number): Promise<Record<string, unknown>> {
    await this.authenticate(sessionUuid);
    const now = Date.now();
    const expiredDate = now + (durationSeconds ?? this.timeoutSeconds.get()) * 1000;
    await this.db.updateTable('session').set({ expiredDate, lastOpDate: now }).where('uuid', '=', sessionUuid).execute();
    this.evict(sessionUuid);
    const row = await this.db.selectFrom('session').selectAll().where('uuid', '=', sessionUuid).executeTakeFirstOrThrow();
    return rowToInventory(SessionInventory, row);
  }

  /** Deletes expired sessions (garbage collection). */
  async purgeExpired(now = Date.now()): Promise<number> {
    const r = await this.db.deleteFrom('session').where('expiredDate', '<=', now).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  evict(sessionUuid: string): void {
    this.#cache.delete(sessionUuid);
  }
}

/** A hash no password matches: unknown names cost one scrypt too. */
const DUMMY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==';

/** The session uuid is a credential: it is named neither in the reply nor in the logs that record replies. */
function invalidSession(_uuid: string): StratoError {
  return new StratoError(IdentityErrors.INVALID_SESSION, 'the session is not found or has expired: log in again');
}
