import type { Caller } from '../core/bus/context.ts';

/**
 * What the identity service (accounts, users, groups, policies, sessions, access keys) offers others.
 *
 * ## Who is calling
 * Every API message carries a `Caller` (`core/bus/context.ts`), filled by the REST layer from the
 * session or the access key and carried by every message sent on the call's behalf:
 * - `accountUuid`: the account the call acts for: what it creates belongs to this account;
 * - `userUuid`: equal to `accountUuid` when the account itself calls, a user's uuid otherwise;
 * - `accountType`: `SystemAdmin` sees and may do everything; `Normal` is a tenant.
 * `isAdmin`, `isAccountItself` below read these facts; use them instead of comparing strings.
 *
 * ## Permissions (one place)
 * Every API message is checked once, before its handler runs, by the permission interceptor
 * (`node/interceptors.ts`): admin-only APIs (`adminOnly: true`) are refused to normal accounts; a
 * user's calls are checked against the policies attached to the user and its groups
 * (`IdentityMessages.checkPermission`). Handlers never check permissions themselves.
 *
 * ## Ownership and deletion of an account (part B: the ownership service)
 * The identity service registers `AccountVO` in the cascade graph as a root, with its users, groups,
 * policies, access keys and sessions (`UserVO`, `UserGroupVO`, `PolicyVO`, `AccessKeyVO`) as children.
 * The ownership service records which account owns each resource and joins the cascade with an
 * entry whose `parents` include `ACCOUNT_RESOURCE` and whose `children(…, accountUuids)` returns the
 * owned resources (and whose `delete` removes them through their owners' messages). DeleteAccount
 * then removes what the account owns before the account itself. The cascade's `data` is
 * `AccountDeletionData`. Rows keyed by the account itself (quotas, owner rows, shares) belong in the
 * same entry or one of their own under `ACCOUNT_RESOURCE`.
 *
 * An account has no owner row: CreateAccount is not a `create` (the administrator does not own the
 * tenants it makes). Identity rows (users, groups, policies, access keys, sessions) carry `accountUuid`;
 * the identity handlers answer another account's rows as not found.
 */
export const ACCOUNT_RESOURCE = 'AccountVO';
export const USER_RESOURCE = 'UserVO';
export const USER_GROUP_RESOURCE = 'UserGroupVO';
export const POLICY_RESOURCE = 'PolicyVO';
export const ACCESS_KEY_RESOURCE = 'AccessKeyVO';

/** The cascade's `data` when an account is deleted. */
export interface AccountDeletionData {
  caller?: Caller;
}

/** ZStack's account types. */
export type AccountType = 'SystemAdmin' | 'Normal';

export const IdentityMessages = {
  /** `{ sessionUuid }` → Caller; ID.1002 for an unknown or expired session. */
  authenticate: 'identity.Authenticate',
  /** `AccessKeyRequest` → Caller; ID.1001 for a bad, stale, replayed or disabled key. */
  authenticateAccessKey: 'identity.AuthenticateAccessKey',
  /** `PermissionQuery` (with the caller on the message) → `{}`; ID.1003 when refused. */
  checkPermission: 'identity.CheckPermission',
} as const;

export const IdentityEvents = {
  /** `{ uuid }`: an account and everything it owned are gone. */
  accountDeleted: 'identity.accountDeleted',
  /** `{ sessionUuid }`: every node forgets the session at once (logout, renewal, deletion). */
  sessionEnded: 'identity.sessionEnded',
  /** `{ accountUuid }`: policies or memberships changed; permission caches of that account are stale. */
  permissionsChanged: 'identity.permissionsChanged',
  /** `AuthenticationFailure`: a signed request was refused (the audit records it on the node that refused it). */
  authenticationFailed: 'identity.authenticationFailed',
} as const;

/** A request signed with an access key, as the REST layer saw it. */
export interface AccessKeyRequest {
  accessKeyId: string;
  signature: string;
  method: string;
  /** The value of the `Date` header, as sent. */
  date: string;
  /** The paths the client may have signed (`/v1/zones/<uuid>` and the route template `/v1/zones/{uuid}`). */
  paths: string[];
  /** Digest of the whole request (method, URL, body): the same request twice is a replay. */
  fingerprint: string;
  /** For the audit of refusals: the API the request was for and where it came from. */
  apiName?: string;
  clientIp?: string;
}

export interface AuthenticationFailure {
  apiName?: string;
  accessKeyId: string;
  accountUuid?: string;
  userUuid?: string;
  clientIp?: string;
  /** ZStack error code of the refusal. */
  error: string;
  reason: string;
}

/** What the permission check needs to know about one API call. */
export interface PermissionQuery {
  apiName: string;
  /** The resource the API acts on, when it names one. */
  resourceUuid?: string;
  /** For self-service checks (a user changing its own password). */
  targetUserUuid?: string;
}

export const isAdmin = (c: Caller | undefined): boolean => c?.accountType === 'SystemAdmin';
/** True when the account itself calls (not one of its users). */
export const isAccountItself = (c: Caller): boolean => c.userUuid === c.accountUuid;

/**
 * Headers the API layer puts on the bus message of each API call (never on the messages services
 * send on its behalf): the permission check and the audit act once per call, on these.
 */
export const ApiCallHeaders = {
  /** Present ('1') on the message that starts an API call. */
  entry: 'strato-api-call',
  /** The client's address as the REST server saw it. */
  clientIp: 'strato-client-ip',
} as const;
