import { Type } from '@sinclair/typebox';
import { defineApi, defineQueryApi, P } from '../../core/api/define-api.ts';

const addHostParams = {
  name: P.name(),
  description: P.description(),
  managementIp: Type.String({ minLength: 1, maxLength: 255 }),
  clusterUuid: P.uuid(),
};

/** ZStack's APIAddSimulatorHostMsg (simulator module): a simulated host with the given capacity. */
export const AddSimulatorHost = defineApi({
  name: 'AddSimulatorHost', service: 'host', kind: 'async', method: 'POST', path: '/hosts/simulators', create: true, tagResourceType: 'HostVO', adminOnly: true,
  params: { ...addHostParams, memoryCapacity: Type.Integer({ minimum: 1 }), cpuCapacity: Type.Integer({ minimum: 1 }) },
  result: { inventory: 'HostInventory' },
  description: 'Add a simulated host (cpuCapacity vCPUs, memoryCapacity bytes) to a cluster',
});

/** ZStack's APIAddKVMHostMsg; the KVM hypervisor plugin deploys the agent over SSH (password or private key). */
export const AddKVMHost = defineApi({
  name: 'AddKVMHost', service: 'host', kind: 'async', method: 'POST', path: '/hosts/kvm', create: true, tagResourceType: 'HostVO', adminOnly: true,
  params: {
    ...addHostParams,
    username: Type.String({ minLength: 1, maxLength: 255 }),
    // Strato's addition: an OpenSSH private key instead of the password (one of the two is required).
    password: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    sshPrivateKey: Type.Optional(Type.String({ minLength: 1, maxLength: 16384 })),
    sshPort: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
  },
  result: { inventory: 'HostInventory' },
  timeoutMs: 3 * 3600_000,
  description: 'Add a KVM host reached over SSH to a cluster',
});

export const UpdateHost = defineApi({
  name: 'UpdateHost', service: 'host', kind: 'async', method: 'PUT', path: '/hosts/{uuid}/actions', adminOnly: true,
  params: { uuid: P.uuid(), name: Type.Optional(P.name()), description: P.description(), managementIp: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })) },
  resourceUuidParam: 'uuid',
  result: { inventory: 'HostInventory' },
  description: 'Update the name, description or management IP of a host',
});

export const ChangeHostState = defineApi({
  name: 'ChangeHostState', service: 'host', kind: 'async', method: 'PUT', path: '/hosts/{uuid}/actions', adminOnly: true,
  params: { uuid: P.uuid(), stateEvent: Type.Union([Type.Literal('enable'), Type.Literal('disable'), Type.Literal('maintain')]) },
  resourceUuidParam: 'uuid',
  result: { inventory: 'HostInventory' },
  description: 'Enable or disable a host, or put it in maintenance',
});

export const ReconnectHost = defineApi({
  name: 'ReconnectHost', service: 'host', kind: 'async', method: 'PUT', path: '/hosts/{uuid}/actions', adminOnly: true,
  params: { uuid: P.uuid() },
  resourceUuidParam: 'uuid',
  result: { inventory: 'HostInventory' },
  description: 'Reconnect a host: echo, connect and refresh its capacity',
});

export const DeleteHost = defineApi({
  name: 'DeleteHost', service: 'host', kind: 'async', method: 'DELETE', path: '/hosts/{uuid}', adminOnly: true,
  params: { uuid: P.uuid() },
  resourceUuidParam: 'uuid',
  result: { none: true },
  description: 'Delete a host through the cascade',
});

export const QueryHost = defineQueryApi({ name: 'QueryHost', inventory: 'HostInventory', path: '/hosts', adminOnly: true });

export const hostApis = [AddSimulatorHost, AddKVMHost, UpdateHost, ChangeHostState, ReconnectHost, DeleteHost, QueryHost];
