import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Caller } from '../../core/bus/context.ts';
import type { ConfigHandle } from '../../core/config/index.ts';
import { IdentityErrors, StratoError } from '../../core/errors/index.ts';
import { rowToInventory } from '../../core/query/inventory.ts';
import { isUuid, newUuid } from '../../core/util/uuid.ts';
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
    // Same answer for an unknown account and a wrong password: names are not disclosed.
    const ok = account ? await verifySecret(passwordSha512.toLowerCase(), account.passwordHash) : false;
    if (!account || !ok) throw new StratoError(IdentityErrors.AUTHENTICATION_ERROR, 'wrong account name or password');
    const now = Date.now();
    const row = { uuid: newUuid(), accountUuid: account.uuid, userUuid: account.uuid, userType: 'AccountVO', expiredDate: now + this.timeoutSeconds.get() * 1000, createDate: now, lastOpDate: now };
    await this.db.insertInto('session').values(row).execute();
    this.#purgeIfDue(now);
    return rowToInventory(SessionInventory, row);
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

function invalidSession(uuid: string): StratoError {
  return new StratoError(IdentityErrors.INVALID_SESSION, `session[uuid:${uuid}] is not found or has expired`);
}
