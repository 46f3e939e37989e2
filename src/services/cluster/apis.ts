import { Type } from '@sinclair/typebox';
import { defineApi, defineQueryApi, P } from '../../core/api/define-api.ts';

const HYPERVISORS = ['KVM', 'Simulator'] as const;
const ARCHITECTURES = ['x86_64', 'aarch64', 'mips64el', 'loongarch64'] as const;

export const CreateCluster = defineApi({
  name: 'CreateCluster', service: 'cluster', kind: 'async', method: 'POST', path: '/clusters', create: true, tagResourceType: 'ClusterVO', adminOnly: true,
  params: {
    zoneUuid: P.uuid(),
    name: P.name(),
    description: P.description(),
    hypervisorType: Type.Union(HYPERVISORS.map((h) => Type.Literal(h))),
    type: Type.Optional(Type.Literal('zstack')),
    architecture: Type.Optional(Type.Union(ARCHITECTURES.map((a) => Type.Literal(a)))),
  },
  result: { inventory: 'ClusterInventory' },
  description: 'Create a cluster in a zone',
});

export const UpdateCluster = defineApi({
  name: 'UpdateCluster', service: 'cluster', kind: 'async', method: 'PUT', path: '/clusters/{uuid}/actions', adminOnly: true,
  params: { uuid: P.uuid(), name: Type.Optional(P.name()), description: P.description() },
  resourceUuidParam: 'uuid',
  result: { inventory: 'ClusterInventory' },
  description: 'Update the name or description of a cluster',
});

export const ChangeClusterState = defineApi({
  name: 'ChangeClusterState', service: 'cluster', kind: 'async', method: 'PUT', path: '/clusters/{uuid}/actions', adminOnly: true,
  params: { uuid: P.uuid(), stateEvent: P.stateEvent() },
  resourceUuidParam: 'uuid',
  result: { inventory: 'ClusterInventory' },
  description: 'Enable or disable a cluster',
});

export const DeleteCluster = defineApi({
  name: 'DeleteCluster', service: 'cluster', kind: 'async', method: 'DELETE', path: '/clusters/{uuid}', adminOnly: true,
  params: { uuid: P.uuid() },
  resourceUuidParam: 'uuid',
  result: { none: true },
  description: 'Delete a cluster and everything in it through the cascade',
});

export const QueryCluster = defineQueryApi({ name: 'QueryCluster', inventory: 'ClusterInventory', path: '/clusters' });

export const clusterApis = [CreateCluster, UpdateCluster, ChangeClusterState, DeleteCluster, QueryCluster];
