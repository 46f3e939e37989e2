import { Type } from '@sinclair/typebox';
import { defineApi, defineQueryApi, P } from '../../core/api/define-api.ts';

const PHYSICAL_INTERFACE = () => Type.String({ minLength: 1, maxLength: 1024 });
const VSWITCH = () => Type.Optional(Type.Union([Type.Literal('LinuxBridge'), Type.Literal('OvsDpdk'), Type.Literal('MacVlan')]));
const VNI = (minimum: number) => Type.Integer({ minimum, maximum: 16777214 });

/** ZStack's APICreateL2NetworkMsg parameters, shared by every L2 create. */
const l2Common = { name: P.name(), description: P.description(), zoneUuid: P.uuid(), physicalInterface: PHYSICAL_INTERFACE(), vSwitchType: VSWITCH(), isolated: Type.Optional(Type.Boolean()), pvlan: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })) };
const common = { kind: 'async', method: 'POST', create: true, tagResourceType: 'L2NetworkVO', adminOnly: true, service: 'l2Network', result: { inventory: 'L2NetworkInventory' } } as const;

export const CreateL2NoVlanNetwork = defineApi({ ...common, name: 'CreateL2NoVlanNetwork', path: '/l2-networks/no-vlan', params: l2Common, description: 'Create an L2 network without VLAN on a physical interface of the hosts' });

export const CreateL2VlanNetwork = defineApi({
  ...common, name: 'CreateL2VlanNetwork', path: '/l2-networks/vlan', params: { ...l2Common, vlan: Type.Integer({ minimum: 1, maximum: 4094 }) },
  result: { inventory: 'L2VlanNetworkInventory' }, description: 'Create a VLAN L2 network',
});

export const CreateL2VxlanNetworkPool = defineApi({
  ...common, name: 'CreateL2VxlanNetworkPool', path: '/l2-networks/vxlan-pool', params: { ...l2Common, physicalInterface: Type.Optional(PHYSICAL_INTERFACE()) },
  result: { inventory: 'L2VxlanNetworkPoolInventory' }, description: 'Create a VXLAN network pool (VNI ranges are added to it)',
});

export const CreateL2VxlanNetwork = defineApi({
  ...common, name: 'CreateL2VxlanNetwork', path: '/l2-networks/vxlan',
  params: { ...l2Common, zoneUuid: Type.Optional(P.uuid()), physicalInterface: Type.Optional(PHYSICAL_INTERFACE()), poolUuid: P.uuid(), vni: Type.Optional(VNI(1)) },
  result: { inventory: 'L2VxlanNetworkInventory' }, description: 'Create a VXLAN network in a pool; without vni one is allocated from the pool\'s ranges',
});

export const CreateVniRange = defineApi({
  ...common, name: 'CreateVniRange', path: '/l2-networks/vxlan-pool/{l2NetworkUuid}/vni-ranges', tagResourceType: 'VniRangeVO', resourceUuidParam: 'l2NetworkUuid',
  params: { l2NetworkUuid: P.uuid(), name: P.name(), description: P.description(), startVni: VNI(0), endVni: VNI(0) },
  result: { inventory: 'VniRangeInventory' }, description: 'Add a VNI range to a VXLAN pool; ranges of one pool never overlap',
});

export const DeleteVniRange = defineApi({
  name: 'DeleteVniRange', service: 'l2Network', kind: 'async', method: 'DELETE', path: '/l2-networks/vxlan-pool/vni-ranges/{uuid}', adminOnly: true,
  params: { uuid: P.uuid() }, result: { none: true }, description: 'Delete a VNI range (refused while VXLAN networks use VNIs of it)',
});

export const UpdateL2Network = defineApi({
  name: 'UpdateL2Network', service: 'l2Network', kind: 'async', method: 'PUT', path: '/l2-networks/{uuid}/actions', adminOnly: true,
  params: { uuid: P.uuid(), name: Type.Optional(P.name()), description: P.description() }, resourceUuidParam: 'uuid',
  result: { inventory: 'L2NetworkInventory' }, description: 'Update the name or description of an L2 network',
});

export const DeleteL2Network = defineApi({
  name: 'DeleteL2Network', service: 'l2Network', kind: 'async', method: 'DELETE', path: '/l2-networks/{uuid}', adminOnly: true,
  params: { uuid: P.uuid() }, resourceUuidParam: 'uuid', result: { none: true },
  description: 'Delete an L2 network with its L3 networks, IP ranges and cluster attachments (a VXLAN pool with its VXLAN networks)',
});

export const AttachL2NetworkToCluster = defineApi({
  name: 'AttachL2NetworkToCluster', service: 'l2Network', kind: 'async', method: 'POST', path: '/l2-networks/{l2NetworkUuid}/clusters/{clusterUuid}', adminOnly: true,
  // ZStack's parameterName is "null": the SDK wraps the non-path parameters (tags) as {"null": {...}}.
  bodyKey: 'null',
  params: { l2NetworkUuid: P.uuid(), clusterUuid: P.uuid(), l2ProviderType: Type.Optional(Type.Literal('LinuxBridge')) }, resourceUuidParam: 'l2NetworkUuid',
  result: { inventory: 'L2NetworkInventory' }, description: 'Attach an L2 network to a cluster (a VXLAN pool needs the l2NetworkUuid::…::clusterUuid::…::cidr::… system tag)',
});

export const DetachL2NetworkFromCluster = defineApi({
  name: 'DetachL2NetworkFromCluster', service: 'l2Network', kind: 'async', method: 'DELETE', path: '/l2-networks/{l2NetworkUuid}/clusters/{clusterUuid}', adminOnly: true,
  params: { l2NetworkUuid: P.uuid(), clusterUuid: P.uuid() }, resourceUuidParam: 'l2NetworkUuid',
  result: { inventory: 'L2NetworkInventory' }, description: 'Detach an L2 network from a cluster',
});

export const QueryL2Network = defineQueryApi({ name: 'QueryL2Network', inventory: 'L2NetworkInventory', path: '/l2-networks' });
export const QueryL2VlanNetwork = defineQueryApi({ name: 'QueryL2VlanNetwork', inventory: 'L2VlanNetworkInventory', path: '/l2-networks/vlan' });
export const QueryL2VxlanNetwork = defineQueryApi({ name: 'QueryL2VxlanNetwork', inventory: 'L2VxlanNetworkInventory', path: '/l2-networks/vxlan' });
export const QueryL2VxlanNetworkPool = defineQueryApi({ name: 'QueryL2VxlanNetworkPool', inventory: 'L2VxlanNetworkPoolInventory', path: '/l2-networks/vxlan-pool' });
export const QueryVniRange = defineQueryApi({ name: 'QueryVniRange', inventory: 'VniRangeInventory', path: '/l2-networks/vxlan-pool/vni-range' });

export const l2NetworkApis = [
  CreateL2NoVlanNetwork, CreateL2VlanNetwork, CreateL2VxlanNetworkPool, CreateL2VxlanNetwork, CreateVniRange, DeleteVniRange,
  UpdateL2Network, DeleteL2Network, AttachL2NetworkToCluster, DetachL2NetworkFromCluster,
  QueryL2Network, QueryL2VlanNetwork, QueryL2VxlanNetwork, QueryL2VxlanNetworkPool, QueryVniRange,
];
