import { Type } from '@sinclair/typebox';
import { defineApi, defineQueryApi, P } from '../../core/api/define-api.ts';

const SHA512_HEX = '^[0-9a-fA-F]{128}$';

export const LogInByAccount = defineApi({
  name: 'LogInByAccount', service: 'identity', kind: 'sync', method: 'PUT', path: '/accounts/login', bodyKey: 'logInByAccount', noSession: true,
  params: {
    accountName: Type.String({ minLength: 1, maxLength: 255 }),
    password: Type.String({ pattern: SHA512_HEX, description: 'SHA-512 hex of the password' }),
    clientInfo: Type.Optional(Type.Record(Type.String(), Type.String())),
  },
  result: { inventory: 'SessionInventory' },
  description: 'Log in with an account name and the SHA-512 hex of its password; returns a session',
});

export const LogOut = defineApi({
  name: 'LogOut', service: 'identity', kind: 'sync', method: 'DELETE', path: '/accounts/sessions/{sessionUuid}', noSession: true,
  params: { sessionUuid: Type.String({ minLength: 1, maxLength: 64 }), clientInfo: Type.Optional(Type.Record(Type.String(), Type.String())) },
  result: { none: true },
  description: 'End a session at once',
});

export const ValidateSession = defineApi({
  name: 'ValidateSession', service: 'identity', kind: 'sync', method: 'GET', path: '/accounts/sessions/{sessionUuid}/valid', noSession: true,
  params: { sessionUuid: Type.String({ minLength: 1, maxLength: 64 }) },
  result: { fields: { valid: Type.Boolean() } },
  description: 'Tell whether a session is valid',
});

export const RenewSession = defineApi({
  name: 'RenewSession', service: 'identity', kind: 'async', method: 'PUT', path: '/accounts/sessions/{sessionUuid}/renew', bodyKey: 'renewSession',
  // No resourceUuidParam: sessions are rows any node serves, and a routing key is logged (a session uuid is a credential).
  params: { sessionUuid: P.uuid(), duration: Type.Optional(Type.Integer({ minimum: 60, maximum: 31536000, description: 'seconds' })) },
  result: { inventory: 'SessionInventory' },
  description: 'Extend a session by `duration` seconds (default: the session timeout)',
});

// Tenants see their own account only: reads are isolated by the query engine (the ownership service's tenant policies).
export const QueryAccount = defineQueryApi({ name: 'QueryAccount', inventory: 'AccountInventory', path: '/accounts' });

const password = (what: string) => Type.String({ pattern: SHA512_HEX, description: `SHA-512 hex of the ${what}` });
const description = P.description;
const async = { service: 'identity', kind: 'async' } as const;

export const LogInByUser = defineApi({
  name: 'LogInByUser', service: 'identity', kind: 'sync', method: 'PUT', path: '/accounts/users/login', bodyKey: 'logInByUser', noSession: true,
  params: {
    accountUuid: Type.Optional(P.uuid()),
    accountName: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    userName: Type.String({ minLength: 1, maxLength: 255 }),
    password: password('password'),
    clientInfo: Type.Optional(Type.Record(Type.String(), Type.String())),
  },
  result: { inventory: 'SessionInventory' },
  description: "Log in as a user of an account (named by accountName or accountUuid) with the SHA-512 hex of the user's password",
});

export const CreateAccount = defineApi({
  // Not a `create`: an account is its own owner, not a resource the administrator owns (contracts/identity.ts).
  ...async, name: 'CreateAccount', method: 'POST', path: '/accounts', adminOnly: true,
  params: { name: P.name(), password: password('password'), type: Type.Optional(Type.Union([Type.Literal('Normal'), Type.Literal('SystemAdmin')])), description: description() },
  result: { inventory: 'AccountInventory' },
  description: 'Create an account (a tenant); only administrators may',
});

export const UpdateAccount = defineApi({
  ...async, name: 'UpdateAccount', method: 'PUT', path: '/accounts/{uuid}', bodyKey: 'updateAccount', resourceUuidParam: 'uuid',
  params: { uuid: P.uuid(), name: Type.Optional(P.name()), description: description(), password: Type.Optional(password('new password')), oldPassword: Type.Optional(password('current password')) },
  result: { inventory: 'AccountInventory' },
  description: 'Rename an account or change its password (an account gives its old password; an administrator resets without it)',
});

export const DeleteAccount = defineApi({
  ...async, name: 'DeleteAccount', method: 'DELETE', path: '/accounts/{uuid}', resourceUuidParam: 'uuid', adminOnly: true,
  params: { uuid: P.uuid() },
  result: { none: true },
  description: 'Delete an account with its users, groups, policies, access keys, sessions and everything it owns',
});

export const CreateUser = defineApi({
  ...async, name: 'CreateUser', method: 'POST', path: '/accounts/users', create: true, tagResourceType: 'UserVO',
  params: { name: P.name(), password: password('password'), description: description() },
  result: { inventory: 'UserInventory' },
  description: "Create a user in the caller's account",
});

export const UpdateUser = defineApi({
  ...async, name: 'UpdateUser', method: 'PUT', path: '/accounts/users/actions', bodyKey: 'updateUser',
  params: { uuid: Type.Optional(P.uuid('the user; default: the calling user')), name: Type.Optional(P.name()), description: description(), password: Type.Optional(password('new password')), oldPassword: Type.Optional(password('current password')) },
  result: { inventory: 'UserInventory' },
  description: "Rename a user or change its password (a user gives its old password; its account resets without it)",
});

export const DeleteUser = defineApi({
  ...async, name: 'DeleteUser', method: 'DELETE', path: '/accounts/users/{uuid}', resourceUuidParam: 'uuid',
  params: { uuid: P.uuid() },
  result: { none: true },
  description: 'Delete a user with its access keys and sessions',
});

export const CreateUserGroup = defineApi({
  ...async, name: 'CreateUserGroup', method: 'POST', path: '/accounts/groups', create: true, tagResourceType: 'UserGroupVO',
  params: { name: P.name(), description: description() },
  result: { inventory: 'UserGroupInventory' },
  description: "Create a user group in the caller's account",
});

export const UpdateUserGroup = defineApi({
  ...async, name: 'UpdateUserGroup', method: 'PUT', path: '/accounts/groups/actions', bodyKey: 'updateUserGroup',
  params: { uuid: P.uuid(), name: Type.Optional(P.name()), description: description() },
  result: { inventory: 'UserGroupInventory' },
  description: 'Rename a user group',
});

export const DeleteUserGroup = defineApi({
  ...async, name: 'DeleteUserGroup', method: 'DELETE', path: '/accounts/groups/{uuid}', resourceUuidParam: 'uuid',
  params: { uuid: P.uuid() },
  result: { none: true },
  description: 'Delete a user group (its users stay)',
});

export const AddUserToGroup = defineApi({
  ...async, name: 'AddUserToGroup', method: 'POST', path: '/accounts/groups/{groupUuid}/users', resourceUuidParam: 'groupUuid',
  params: { groupUuid: P.uuid(), userUuid: P.uuid() },
  result: { none: true },
  description: 'Make a user a member of a group (it gets the policies attached to the group)',
});

export const RemoveUserFromGroup = defineApi({
  ...async, name: 'RemoveUserFromGroup', method: 'DELETE', path: '/accounts/groups/{groupUuid}/users/{userUuid}', resourceUuidParam: 'groupUuid',
  params: { groupUuid: P.uuid(), userUuid: P.uuid() },
  result: { none: true },
  description: 'Remove a user from a group',
});

const Statement = Type.Object(
  {
    name: Type.Optional(Type.String({ maxLength: 255 })),
    effect: Type.Union([Type.Literal('Allow'), Type.Literal('Deny')]),
    principals: Type.Optional(Type.Array(Type.String({ maxLength: 1024 }), { maxItems: 256 })),
    actions: Type.Array(Type.String({ minLength: 1, maxLength: 1024 }), { minItems: 1, maxItems: 1024 }),
    resources: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 1024 }), { maxItems: 1024 })),
  },
  { additionalProperties: false },
);

export const CreatePolicy = defineApi({
  ...async, name: 'CreatePolicy', method: 'POST', path: '/accounts/policies', create: true, tagResourceType: 'PolicyVO',
  params: { name: P.name(), description: description(), statements: Type.Array(Statement, { minItems: 1, maxItems: 256 }) },
  result: { inventory: 'PolicyInventory' },
  description: 'Create a policy: statements allowing or denying API actions (`org.zstack.header.vm.APICreateVmInstanceMsg`, `org.zstack.header.vm.*`) on resources',
});

export const DeletePolicy = defineApi({
  ...async, name: 'DeletePolicy', method: 'DELETE', path: '/accounts/policies/{uuid}', resourceUuidParam: 'uuid',
  params: { uuid: P.uuid() },
  result: { none: true },
  description: 'Delete a policy and detach it from every user and group',
});

export const AttachPolicyToUser = defineApi({
  ...async, name: 'AttachPolicyToUser', method: 'POST', path: '/accounts/users/{userUuid}/policies', resourceUuidParam: 'userUuid',
  params: { userUuid: P.uuid(), policyUuid: P.uuid() },
  result: { none: true },
  description: 'Attach a policy to a user',
});

export const DetachPolicyFromUser = defineApi({
  ...async, name: 'DetachPolicyFromUser', method: 'DELETE', path: '/accounts/users/{userUuid}/policies/{policyUuid}', resourceUuidParam: 'userUuid',
  params: { userUuid: P.uuid(), policyUuid: P.uuid() },
  result: { none: true },
  description: 'Detach a policy from a user',
});

export const AttachPolicyToUserGroup = defineApi({
  ...async, name: 'AttachPolicyToUserGroup', method: 'POST', path: '/accounts/groups/{groupUuid}/policies', resourceUuidParam: 'groupUuid',
  params: { groupUuid: P.uuid(), policyUuid: P.uuid() },
  result: { none: true },
  description: 'Attach a policy to a user group',
});

export const DetachPolicyFromUserGroup = defineApi({
  ...async, name: 'DetachPolicyFromUserGroup', method: 'DELETE', path: '/accounts/groups/{groupUuid}/policies/{policyUuid}', resourceUuidParam: 'groupUuid',
  params: { groupUuid: P.uuid(), policyUuid: P.uuid() },
  result: { none: true },
  description: 'Detach a policy from a user group',
});

/**
 * Answered at once (200) rather than through an api job: a job's stored result would keep the secret in
 * the database for hours. ZStack's SDK takes a 200 for any API (`ZSClient`: 200/204 are results).
 */
export const CreateAccessKey = defineApi({
  service: 'identity', kind: 'sync', name: 'CreateAccessKey', method: 'POST', path: '/accesskeys', create: true, tagResourceType: 'AccessKeyVO',
  params: {
    accountUuid: P.uuid(),
    userUuid: P.uuid('the user the key acts as; the account uuid for the account itself'),
    description: description(),
    AccessKeyID: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9]{16,64}$' })),
    AccessKeySecret: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9]{32,128}$' })),
  },
  result: { inventory: 'AccessKeyInventory' },
  description: 'Create an access key for signed requests; the secret is in this reply only',
});

export const ChangeAccessKeyState = defineApi({
  ...async, name: 'ChangeAccessKeyState', method: 'PUT', path: '/accesskeys/{uuid}/actions', resourceUuidParam: 'uuid',
  params: { uuid: P.uuid(), stateEvent: P.stateEvent() },
  result: { inventory: 'AccessKeyInventory' },
  description: 'Enable or disable an access key (a disabled key is refused at once)',
});

export const DeleteAccessKey = defineApi({
  ...async, name: 'DeleteAccessKey', method: 'DELETE', path: '/accesskeys/{uuid}', resourceUuidParam: 'uuid',
  params: { uuid: P.uuid() },
  result: { none: true },
  description: 'Delete an access key',
});

export const QueryUser = defineQueryApi({ name: 'QueryUser', inventory: 'UserInventory', path: '/accounts/users' });
export const QueryUserGroup = defineQueryApi({ name: 'QueryUserGroup', inventory: 'UserGroupInventory', path: '/accounts/groups' });
export const QueryPolicy = defineQueryApi({ name: 'QueryPolicy', inventory: 'PolicyInventory', path: '/accounts/policies' });
export const QueryAccessKey = defineQueryApi({ name: 'QueryAccessKey', inventory: 'AccessKeyInventory', path: '/accesskeys' });

export const identityApis = [
  LogInByAccount, LogInByUser, LogOut, ValidateSession, RenewSession, QueryAccount,
  CreateAccount, UpdateAccount, DeleteAccount, CreateUser, UpdateUser, DeleteUser,
  CreateUserGroup, UpdateUserGroup, DeleteUserGroup, AddUserToGroup, RemoveUserFromGroup,
  CreatePolicy, DeletePolicy, AttachPolicyToUser, DetachPolicyFromUser, AttachPolicyToUserGroup, DetachPolicyFromUserGroup,
  CreateAccessKey, ChangeAccessKeyState, DeleteAccessKey,
  QueryUser, QueryUserGroup, QueryPolicy, QueryAccessKey,
];
