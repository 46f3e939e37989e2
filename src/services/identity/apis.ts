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
  params: { sessionUuid: P.uuid(), duration: Type.Optional(Type.Integer({ minimum: 60, maximum: 31536000, description: 'seconds' })) },
  resourceUuidParam: 'sessionUuid',
  result: { inventory: 'SessionInventory' },
  description: 'Extend a session by `duration` seconds (default: the session timeout)',
});

export const QueryAccount = defineQueryApi({ name: 'QueryAccount', inventory: 'AccountInventory', path: '/accounts', adminOnly: true });

export const identityApis = [LogInByAccount, LogOut, ValidateSession, RenewSession, QueryAccount];
