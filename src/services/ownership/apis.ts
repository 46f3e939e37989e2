import { Type } from '@sinclair/typebox';
import { defineApi, defineQueryApi, P } from '../../core/api/define-api.ts';

const uuids = (maxItems: number) => Type.Array(P.uuid(), { minItems: 1, maxItems });

export const ShareResource = defineApi({
  name: 'ShareResource', service: 'ownership', kind: 'async', method: 'PUT', path: '/accounts/resources/actions', bodyKey: 'shareResource',
  params: {
    resourceUuids: uuids(1000),
    accountUuids: Type.Optional(Type.Array(P.uuid(), { maxItems: 1000 })),
    toPublic: Type.Optional(Type.Boolean()),
  },
  result: { none: true },
  description: 'Share images, L3 networks, instance or disk offerings one owns with accounts, or with every account (toPublic)',
});

export const RevokeResourceSharing = defineApi({
  name: 'RevokeResourceSharing', service: 'ownership', kind: 'async', method: 'PUT', path: '/accounts/resources/actions', bodyKey: 'revokeResourceSharing',
  params: {
    resourceUuids: uuids(1000),
    accountUuids: Type.Optional(Type.Array(P.uuid(), { maxItems: 1000 })),
    toPublic: Type.Optional(Type.Boolean()),
    all: Type.Optional(Type.Boolean({ description: 'revoke every share of these resources' })),
  },
  result: { none: true },
  description: 'Stop sharing resources with some accounts, with everyone (toPublic), or at all (all)',
});

export const ChangeResourceOwner = defineApi({
  name: 'ChangeResourceOwner', service: 'ownership', kind: 'async', method: 'POST', path: '/account/{accountUuid}/resources', adminOnly: true,
  params: { accountUuid: P.uuid('the new owner'), resourceUuid: P.uuid() },
  resourceUuidParam: 'resourceUuid',
  result: { inventory: 'AccountResourceRefInventory' },
  description: 'Give a resource to another account (administrators only)',
});

export const QueryAccountResourceRef = defineQueryApi({ name: 'QueryAccountResourceRef', inventory: 'AccountResourceRefInventory', path: '/accounts/resources/refs' });
export const QuerySharedResource = defineQueryApi({ name: 'QuerySharedResource', inventory: 'SharedResourceInventory', path: '/accounts/resources' });

export const ownershipApis = [ShareResource, RevokeResourceSharing, ChangeResourceOwner, QueryAccountResourceRef, QuerySharedResource];
