import { sql, type Kysely } from 'kysely';
import { isUniqueViolation } from '../../core/db/index.ts';
import type { ConfigHandle } from '../../core/config/index.ts';
import { IdentityErrors, StratoError } from '../../core/errors/index.ts';

/**
 * Failed logins counted per principal (an account, or a user of an account) in the database, so
 * every node sees them: after `maxFailures` wrong passwords in a row the principal is locked for
 * `lockSeconds`, even for the right password. A success clears the count. Unknown names are not
 * counted (they would let anyone fill the table) and get the same answer as a wrong password.
 */
export class LoginGuard {
  constructor(
    private readonly db: Kysely<any>,
    private readonly maxFailures: ConfigHandle<number>,
    private readonly lockSeconds: ConfigHandle<number>,
  ) {}

  /** Throws ID.1001 while the principal is locked. */
  async checkNotLocked(principal: string, now = Date.now()): Promise<void> {
    const row = await this.db.selectFrom('login_failure').select(['lockedUntil']).where('principal', '=', principal).executeTakeFirst();
    if (row && Number(row.lockedUntil) > now) {
      throw new StratoError(IdentityErrors.AUTHENTICATION_ERROR, `too many failed logins: locked for ${Math.ceil((Number(row.lockedUntil) - now) / 1000)} more seconds`);
    }
  }

  /**
   * Counts one failure with an atomic increment: wrong passwords fired in parallel are all counted
   * (a read-then-write count would let a burst through with far more tries than allowed).
   */
  async recordFailure(principal: string, now = Date.now()): Promise<void> {
    await this.db.insertInto('login_failure').values({ principal, failures: 0, lockedUntil: 0, lastOpDate: now }).execute().catch((e: unknown) => {
      if (!isUniqueViolation(e)) throw e;
    });
    // A lock that has run out starts a fresh count.
    await this.db.updateTable('login_failure').set({ failures: 0, lockedUntil: 0 }).where('principal', '=', principal).where('lockedUntil', '>', 0).where('lockedUntil', '<=', now).execute();
    await this.db.updateTable('login_failure').set({ failures: sql`failures + 1`, lastOpDate: now }).where('principal', '=', principal).where('lockedUntil', '=', 0).execute();
    await this.db.updateTable('login_failure').set({ failures: 0, lockedUntil: now + this.lockSeconds.get() * 1000 }).where('principal', '=', principal).where('lockedUntil', '=', 0).where('failures', '>=', this.maxFailures.get()).execute();
  }

  async recordSuccess(principal: string): Promise<void> {
    await this.db.deleteFrom('login_failure').where('principal', '=', principal).execute();
  }

  async forget(principals: string[]): Promise<void> {
    if (principals.length) await this.db.deleteFrom('login_failure').where('principal', 'in', principals).execute();
  }
}

export const accountPrincipal = (accountUuid: string) => `account:${accountUuid}`;
export const userPrincipal = (userUuid: string) => `user:${userUuid}`;
