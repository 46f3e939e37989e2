import { Type } from '@sinclair/typebox';
import { defineApi, defineQueryApi, P } from '../../core/api/define-api.ts';

const IP = () => Type.String({ minLength: 7, maxLength: 64 });
const RANGE_TYPE = () => Type.Optional(Type.Literal('Normal'));

export const CreateL3Network = defineApi({
  name: 'CreateL3Network', service: 'l3Network', kind: 'async', method: 'POST', path: '/l3-networks', create: true, tagResourceType: 'L3NetworkVO', adminOnly: true,
  params: {
    name: P.name(), description: P.description(), l2NetworkUuid: P.uuid(),
    type: Type.Optional(Type.Literal('L3BasicNetwork')),
    category: Type.Optional(Type.Union([Type.Literal('Public'), Type.Literal('Private'), Type.Literal('System')])),
    ipVersion: Type.Optional(Type.Literal(4)),
    system: Type.Optional(Type.Boolean()),
    dnsDomain: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    enableIPAM: Type.Optional(Type.Boolean()),
  },
  result: { inventory: 'L3NetworkInventory' },
  description: 'Create an L3 network on an L2 network (IPv4 only)',
});

export const UpdateL3Network = defineApi({
  name: 'UpdateL3Network', service: 'l3Network', kind: 'async', method: 'PUT', path: '/l3-networks/{uuid}/actions', adminOnly: true,
  params: { uuid: P.uuid(), name: Type.Optional(P.name()), description: P.description(), system: Type.Optional(Type.Boolean()), dnsDomain: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })), category: Type.Optional(Type.Union([Type.Literal('Public'), Type.Literal('Private'), Type.Literal('System')])) },
  resourceUuidParam: 'uuid', result: { inventory: 'L3NetworkInventory' }, description: 'Update an L3 network',
});

export const ChangeL3NetworkState = defineApi({
  name: 'ChangeL3NetworkState', service: 'l3Network', kind: 'async', method: 'PUT', path: '/l3-networks/{uuid}/actions', adminOnly: true,
  params: { uuid: P.uuid(), stateEvent: P.stateEvent() }, resourceUuidParam: 'uuid', result: { inventory: 'L3NetworkInventory' }, description: 'Enable or disable an L3 network',
});

export const DeleteL3Network = defineApi({
  name: 'DeleteL3Network', service: 'l3Network', kind: 'async', method: 'DELETE', path: '/l3-networks/{uuid}', adminOnly: true,
  params: { uuid: P.uuid() }, resourceUuidParam: 'uuid', result: { none: true }, description: 'Delete an L3 network with its IP ranges, used IPs and network services',
});

export const AddIpRange = defineApi({
  name: 'AddIpRange', service: 'l3Network', kind: 'async', method: 'POST', path: '/l3-networks/{l3NetworkUuid}/ip-ranges', create: true, tagResourceType: 'IpRangeVO', adminOnly: true,
  params: { l3NetworkUuid: P.uuid(), name: P.name(), description: P.description(), startIp: IP(), endIp: IP(), netmask: IP(), gateway: Type.Optional(IP()), ipRangeType: RANGE_TYPE() },
  resourceUuidParam: 'l3NetworkUuid', result: { inventory: 'IpRangeInventory' }, description: 'Add an IPv4 range to an L3 network',
});

export const AddIpRangeByNetworkCidr = defineApi({
  name: 'AddIpRangeByNetworkCidr', service: 'l3Network', kind: 'async', method: 'POST', path: '/l3-networks/{l3NetworkUuid}/ip-ranges/by-cidr', create: true, tagResourceType: 'IpRangeVO', adminOnly: true,
  params: { l3NetworkUuid: P.uuid(), name: P.name(), description: P.description(), networkCidr: Type.String({ minLength: 9, maxLength: 64 }), gateway: Type.Optional(IP()), ipRangeType: RANGE_TYPE() },
  resourceUuidParam: 'l3NetworkUuid',
  // ZStack's event has `inventory` (the first range) and `inventories` (two when the gateway splits the CIDR).
  result: { fields: { inventory: Type.Any(), inventories: Type.Array(Type.Any()) } },
  description: 'Add the hosts of an IPv4 CIDR as IP ranges; the gateway (default: the first host) is left out',
});

export const DeleteIpRange = defineApi({
  name: 'DeleteIpRange', service: 'l3Network', kind: 'async', method: 'DELETE', path: '/l3-networks/ip-ranges/{uuid}', adminOnly: true,
  params: { uuid: P.uuid() }, result: { none: true }, description: 'Delete an IP range and release its used IPs',
});

export const AddDnsToL3Network = defineApi({
  name: 'AddDnsToL3Network', service: 'l3Network', kind: 'async', method: 'POST', path: '/l3-networks/{l3NetworkUuid}/dns', adminOnly: true,
  params: { l3NetworkUuid: P.uuid(), dns: IP() }, resourceUuidParam: 'l3NetworkUuid', result: { inventory: 'L3NetworkInventory' }, description: 'Add a DNS server to an L3 network',
});

export const RemoveDnsFromL3Network = defineApi({
  name: 'RemoveDnsFromL3Network', service: 'l3Network', kind: 'async', method: 'DELETE', path: '/l3-networks/{l3NetworkUuid}/dns/{dns}', adminOnly: true,
  params: { l3NetworkUuid: P.uuid(), dns: IP() }, resourceUuidParam: 'l3NetworkUuid', result: { inventory: 'L3NetworkInventory' }, description: 'Remove a DNS server from an L3 network',
});

export const GetFreeIpOfL3Network = defineApi({
  name: 'GetFreeIpOfL3Network', service: 'l3Network', kind: 'sync', method: 'GET', path: '/l3-networks/{l3NetworkUuid}/ip/free',
  params: { l3NetworkUuid: P.uuid(), ipRangeUuid: Type.Optional(P.uuid()), start: Type.Optional(IP()), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000 })) },
  resourceUuidParam: 'l3NetworkUuid', result: { fields: { inventories: Type.Array(Type.Any()) } },
  description: 'Free IPs of an L3 network (FreeIpInventory: ipRangeUuid, ip, netmask, gateway), at most limit (100) from start',
});

export const CheckIpAvailability = defineApi({
  name: 'CheckIpAvailability', service: 'l3Network', kind: 'sync', method: 'GET', path: '/l3-networks/{l3NetworkUuid}/ip/{ip}/availability',
  params: { l3NetworkUuid: P.uuid(), ip: Type.String({ minLength: 1, maxLength: 255 }), ipRangeCheck: Type.Optional(Type.Boolean()) },
  resourceUuidParam: 'l3NetworkUuid', result: { fields: { available: Type.Boolean(), reason: Type.Optional(Type.String()) } },
  description: 'Whether an IP can be used on an L3 network (inside a range and not used)',
});

export const QueryL3Network = defineQueryApi({ name: 'QueryL3Network', inventory: 'L3NetworkInventory', path: '/l3-networks' });
export const QueryIpRange = defineQueryApi({ name: 'QueryIpRange', inventory: 'IpRangeInventory', path: '/l3-networks/ip-ranges' });
export const QueryIpAddress = defineQueryApi({ name: 'QueryIpAddress', inventory: 'UsedIpInventory', path: '/l3-networks/ip-address' });

export const l3NetworkApis = [
  CreateL3Network, UpdateL3Network, ChangeL3NetworkState, DeleteL3Network, AddIpRange, AddIpRangeByNetworkCidr, DeleteIpRange,
  AddDnsToL3Network, RemoveDnsFromL3Network, GetFreeIpOfL3Network, CheckIpAvailability, QueryL3Network, QueryIpRange, QueryIpAddress,
];
