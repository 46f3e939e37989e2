import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';

const hashOf = (token: string) => createHash('sha256').update(token).digest('hex');

/** Tokens are 256 random bits in base64url: what a console URL carries. */
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/**
 * One-time, expiring console tokens (table `console_token`). `issue` returns the token itself, which
 * is never stored; `consume` accepts a token once, before its expiry, on whichever node asks first.
 */
export class ConsoleTokens {
  constructor(private readonly db: Kysely<any>) {}

  async issue(vmInstanceUuid: string, accountUuid: string | undefined, ttlMs: number, now = Date.now()): Promise<{ token: string; expiryDate: number }> {
    // Expired tokens are useless: whoever issues a new one sweeps them (the index keeps this cheap).
    await this.db.deleteFrom('console_token').where('expiryDate', '<', now).execute();
    const token = randomBytes(32).toString('base64url');
    const expiryDate = now + ttlMs;
    await this.db.insertInto('console_token').values({ tokenHash: hashOf(token), vmInstanceUuid, accountUuid: accountUuid ?? null, createDate: now, expiryDate, usedDate: null }).execute();
    return { token, expiryDate };
  }

  /** The VM the token opens, or undefined when it is unknown, expired or already used (indistinguishable on purpose). */
  async consume(token: string, now = Date.now()): Promise<{ vmInstanceUuid: string } | undefined> {
    if (!TOKEN.test(token)) return undefined;
    const tokenHash = hashOf(token);
    const r = await this.db.updateTable('console_token').set({ usedDate: now }).where('tokenHash', '=', tokenHash).where('usedDate', 'is', null).where('expiryDate', '>', now).executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) return undefined;
    const row = await this.db.selectFrom('console_token').select('vmInstanceUuid').where('tokenHash', '=', tokenHash).executeTakeFirst();
    return row ? { vmInstanceUuid: String(row.vmInstanceUuid) } : undefined;
  }
}
