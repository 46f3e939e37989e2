import { Type } from '@sinclair/typebox';
import { defineApi, defineQueryApi, P } from '../../core/api/define-api.ts';

const SERVICE_TYPE = () => Type.String({ minLength: 1, maxLength: 64 });

export const AttachNetworkServiceToL3Network = defineApi({
  name: 'AttachNetworkServiceToL3Network', service: 'networkService', kind: 'async', method: 'POST', path: '/l3-networks/{l3NetworkUuid}/network-services', adminOnly: true,
  params: { l3NetworkUuid: P.uuid(), networkServices: Type.Record(Type.String({ pattern: '^[0-9a-f]{32}$' }), Type.Array(SERVICE_TYPE(), { minItems: 1, maxItems: 32 })) },
  resourceUuidParam: 'l3NetworkUuid', result: { inventory: 'L3NetworkInventory' },
  description: 'Attach network services of providers to an L3 network: {"<providerUuid>": ["DHCP", "Eip"]}',
});

export const DetachNetworkServiceFromL3Network = defineApi({
  name: 'DetachNetworkServiceFromL3Network', service: 'networkService', kind: 'async', method: 'DELETE', path: '/l3-networks/{l3NetworkUuid}/network-services', adminOnly: true,
  // ZStack also takes a `networkServices` map here; over DELETE it only fits the query string as `networkServices.<uuid>=…`, which Strato does not parse yet.
  params: { l3NetworkUuid: P.uuid(), service: Type.Optional(SERVICE_TYPE()) },
  resourceUuidParam: 'l3NetworkUuid', result: { inventory: 'L3NetworkInventory' },
  description: 'Detach one network service type (service=DHCP) or every service from an L3 network',
});

export const GetNetworkServiceTypes = defineApi({
  name: 'GetNetworkServiceTypes', service: 'networkService', kind: 'sync', method: 'GET', path: '/network-services/types',
  params: {}, result: { fields: { serviceAndProviderTypes: Type.Record(Type.String(), Type.Array(Type.String())) } },
  description: 'Each network service type with the provider types offering it',
});

export const QueryNetworkServiceProvider = defineQueryApi({ name: 'QueryNetworkServiceProvider', inventory: 'NetworkServiceProviderInventory', path: '/network-services/providers' });
export const QueryNetworkServiceL3NetworkRef = defineQueryApi({ name: 'QueryNetworkServiceL3NetworkRef', inventory: 'NetworkServiceL3NetworkRefInventory', path: '/l3-networks/network-services/refs' });

export const networkServiceApis = [AttachNetworkServiceToL3Network, DetachNetworkServiceFromL3Network, GetNetworkServiceTypes, QueryNetworkServiceProvider, QueryNetworkServiceL3NetworkRef];
