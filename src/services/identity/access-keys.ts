import { createHash, randomBytes } from 'node:crypto';
import { IdentityEvents, type AccessKeyRequest, type AuthenticationFailure } from '../../contracts/identity.ts';
import type { ApiParams } from '../../core/api/define-api.ts';
import type { Caller } from '../../core/bus/context.ts';
import type { Message } from '../../core/bus/index.ts';
import type { CascadeEntry } from '../../core/cascade/index.ts';
import type { ConfigHandle } from '../../core/config/index.ts';
import { isUniqueViolation } from '../../core/db/index.ts';
import { IdentityErrors, StratoError, SysErrors } from '../../core/errors/index.ts';
import { rowToInventory } from '../../core/query/inventory.ts';
import { findRow, patchRow, stateAfter } from '../../core/resource/resource-store.ts';
import { newUuid } from '../../core/util/uuid.ts';
import type { IdentityDeps } from './accounts.ts';
import type { ChangeAccessKeyState, CreateAccessKey, DeleteAccessKey } from './apis.ts';
import { inAccount, loadOwnedRow, mayReach } from './ownership.ts';
import { AccessKeyInventory, AccountInventory, UserInventory } from './schema.ts';
import { parseSignedDate, signatureMatches, signRequest } from './signature.ts';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
function randomAlnum(n: number): string {
  const bytes = randomBytes(n * 2);
  let out = '';
  for (let i = 0; out.length < n && i < bytes.length; i++) if (bytes[i] < 248) out += ALNUM[bytes[i] % 62]; // 248 = 4·62: no modulo bias
  return out.length === n ? out : randomAlnum(n);
}

/** Access keys: ZStack's signed requests instead of sessions. */
export function accessKeyHandlers(deps: IdentityDeps) {
  const { db } = deps.ctx;
  return {
    async CreateAccessKey(msg: Message<ApiParams<typeof CreateAccessKey>>) {
      const p = msg.body;
      if (!mayReach(msg.caller, p.accountUuid) || !(await findRow(db, AccountInventory, p.accountUuid))) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find Account[uuid:${p.accountUuid}]`);
      const uuid = p.resourceUuid ?? newUuid();
      const secret = p.AccessKeySecret ?? randomAlnum(40);
      const now = Date.now();
      const row = { uuid, accountUuid: p.accountUuid, userUuid: p.userUuid, description: p.description ?? null, accessKeyId: p.AccessKeyID ?? randomAlnum(20), accessKeySecret: secret, state: 'Enabled', createDate: now, lastOpDate: now };
      await inAccount(db, deps.ctx.queues, p.accountUuid, async () => {
        // Checked in the account's queue: the user cannot be deleted between the check and the insert.
        if (p.userUuid !== p.accountUuid) {
          const user = await findRow(db, UserInventory, p.userUuid);
          if (!user || user.accountUuid !== p.accountUuid) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find User[uuid:${p.userUuid}] in account ${p.accountUuid}`);
        }
        try {
          await db.insertInto('access_key').values(row).execute();
        } catch (e) {
          if (isUniqueViolation(e)) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `an access key with id ${row.accessKeyId} already exists`);
          throw e;
        }
      });
      // The only time the secret is shown: the caller keeps it, we never show it again.
      return { ...rowToInventory(AccessKeyInventory, row), AccessKeySecret: secret };
    },

    async ChangeAccessKeyState(msg: Message<ApiParams<typeof ChangeAccessKeyState>>) {
      await loadOwnedRow(db, AccessKeyInventory, msg.body.uuid, msg.caller);
      return patchRow(db, AccessKeyInventory, msg.body.uuid, { state: stateAfter(msg.body.stateEvent) });
    },

    async DeleteAccessKey(msg: Message<ApiParams<typeof DeleteAccessKey>>) {
      if (!(await findRow(db, AccessKeyInventory, msg.body.uuid))) return {};
      await loadOwnedRow(db, AccessKeyInventory, msg.body.uuid, msg.caller);
      await db.deleteFrom('access_key').where('uuid', '=', msg.body.uuid).execute();
      await deps.ctx.tags.deleteForResources([msg.body.uuid]);
      return {};
    },
  };
}

/**
 * Checks a signed request: the key exists and is enabled, the `Date` is within `maxSkewSeconds` of
 * now (a stale request is refused), the signature is the HMAC of what the client says it sent (a
 * tampered method, path or date is refused), and the same request was not seen before (a replay is
 * refused: every accepted request's fingerprint is kept until its date leaves the skew window).
 */
export async function authenticateAccessKey(deps: IdentityDeps, maxSkewSeconds: ConfigHandle<number>, req: AccessKeyRequest, now = Date.now()): Promise<Caller> {
  const { db, bus } = deps.ctx;
  let owner: { accountUuid?: string; userUuid?: string } = {};
  const refuse = (why: string) => {
    const failure: AuthenticationFailure = { apiName: req.apiName, accessKeyId: req.accessKeyId, ...owner, clientIp: req.clientIp, error: IdentityErrors.AUTHENTICATION_ERROR.code, reason: why };
    void bus.publish(IdentityEvents.authenticationFailed, failure);
    return new StratoError(IdentityErrors.AUTHENTICATION_ERROR, `access key request refused: ${why}`);
  };
  const key = await db.selectFrom('access_key').innerJoin('account', 'account.uuid', 'access_key.accountUuid').select(['access_key.accountUuid as accountUuid', 'access_key.userUuid as userUuid', 'access_key.accessKeySecret as secret', 'access_key.state as state', 'account.type as accountType']).where('access_key.accessKeyId', '=', req.accessKeyId).executeTakeFirst();
  if (key) owner = { accountUuid: String(key.accountUuid), userUuid: String(key.userUuid) };
  if (!key || key.state !== 'Enabled') throw refuse('unknown or disabled access key');
  const at = parseSignedDate(req.date);
  if (at === undefined) throw refuse('missing or unreadable Date header');
  const skewMs = maxSkewSeconds.get() * 1000;
  if (Math.abs(now - at) > skewMs) throw refuse('the Date header is too far from the server clock');
  if (!req.paths.some((path) => signatureMatches(signRequest(String(key.secret), req.method, req.date, path), req.signature))) throw refuse('the signature does not match the request');
  const nonce = createHash('sha256').update(`${req.accessKeyId}\n${req.signature}\n${req.fingerprint}`).digest('hex');
  try {
    await db.insertInto('access_key_nonce').values({ signature: nonce, expireDate: at + skewMs }).execute();
  } catch (e) {
    if (isUniqueViolation(e)) throw refuse('the request was already used (replay)');
    throw e;
  }
  if (Math.random() < 0.01) await db.deleteFrom('access_key_nonce').where('expireDate', '<', now - skewMs).execute();
  return { accountUuid: String(key.accountUuid), userUuid: String(key.userUuid), accountType: key.accountType === 'SystemAdmin' ? 'SystemAdmin' : 'Normal', accessKeyId: req.accessKeyId };
}

export function accessKeyCascadeEntry(deps: IdentityDeps): CascadeEntry {
  const { db, tags } = deps.ctx;
  return {
    resource: 'AccessKeyVO',
    parents: ['AccountVO', 'UserVO'],
    children: async (parent, uuids) => (await db.selectFrom('access_key').select('uuid').where(parent === 'AccountVO' ? 'accountUuid' : 'userUuid', 'in', uuids).execute()).map((r) => r.uuid as string),
    async delete(uuids) {
      await db.deleteFrom('access_key').where('uuid', 'in', uuids).execute();
      await tags.deleteForResources(uuids);
    },
  };
}
