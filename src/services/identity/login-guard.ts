import type { Kysely } from 'kysely';
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

  async recordFailure(principal: string, now = Date.now()): Promise<void> {
    const row = await this.db.selectFrom('login_failure').select(['failures', 'lockedUntil']).where('principal', '=', principal).executeTakeFirst();
    // A lock that has run out starts a fresh count.
    const previous = row && Number(row.lockedUntil) === 0 ? Number(row.failures) : 0;
    const failures = previous + 1;
    const lockedUntil = failures >= this.maxFailures.get() ? now + this.lockSeconds.get() * 1000 : 0;
    const values = { failures: lockedUntil ? 0 : failures, lockedUntil, lastOpDate: now };
    if (row) await this.db.updateTable('login_failure').set(values).where('principal', '=', principal).execute();
    else await this.db.insertInto('login_failure').values({ principal, ...values }).execute().catch(() => this.db.updateTable('login_failure').set(values).where('principal', '=', principal).execute());
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
