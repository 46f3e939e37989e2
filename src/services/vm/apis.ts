import { Type, type TProperties } from '@sinclair/typebox';
import { HOST_ALLOCATOR_STRATEGIES } from '../../contracts/offering.ts';
import { defineApi, defineQueryApi, P } from '../../core/api/define-api.ts';
import { vmNicApis } from './nic-apis.ts';
import { vmVolumeApis } from './volume-apis.ts';

const MAX_CPU_NUM = 1024;
const MAX_MEMORY_SIZE = 16 * 1024 ** 4;
const uuidList = (maxItems: number) => Type.Array(P.uuid(), { maxItems });
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
const vmAction = <Extra extends TProperties = {}>(name: string, description: string, params: Extra = {} as Extra) =>
  defineApi({ name, service: 'vm', kind: 'async', method: 'PUT', path: '/vm-instances/{uuid}/actions', params: { uuid: P.uuid(), ...params }, resourceUuidParam: 'uuid', result: { inventory: 'VmInstanceInventory' }, description });

export const CreateVmInstance = defineApi({
  name: 'CreateVmInstance', service: 'vm', kind: 'async', method: 'POST', path: '/vm-instances', create: true, tagResourceType: 'VmInstanceVO',
  params: {
    name: P.name(),
    description: P.description(),
    instanceOfferingUuid: Type.Optional(P.uuid()),
    cpuNum: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_CPU_NUM })),
    memorySize: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_MEMORY_SIZE, description: 'bytes' })),
    imageUuid: P.uuid(),
    l3NetworkUuids: Type.Array(P.uuid(), { minItems: 1, maxItems: 32 }),
    defaultL3NetworkUuid: Type.Optional(P.uuid()),
    dataDiskOfferingUuids: Type.Optional(uuidList(24)),
    zoneUuid: Type.Optional(P.uuid()),
    clusterUuid: Type.Optional(P.uuid()),
    hostUuid: Type.Optional(P.uuid()),
    primaryStorageUuidForRootVolume: Type.Optional(P.uuid()),
    strategy: Type.Optional(Type.Union([Type.Literal('InstantStart'), Type.Literal('CreateStopped')])),
    allocatorStrategy: Type.Optional(Type.Union(HOST_ALLOCATOR_STRATEGIES.map((s) => Type.Literal(s)))),
  },
  result: { inventory: 'VmInstanceInventory' },
  description: 'Create a VM from an image on L3 networks, with an instance offering (or cpuNum and memorySize) and data disks from disk offerings',
});

export const StartVmInstance = vmAction('StartVmInstance', 'Start a stopped VM, on a host chosen by the allocator unless one is given', { clusterUuid: Type.Optional(P.uuid()), hostUuid: Type.Optional(P.uuid()) });
export const StopVmInstance = vmAction('StopVmInstance', 'Stop a VM (grace: shut down; cold: power off); its host capacity is released', { type: Type.Optional(Type.Union([Type.Literal('grace'), Type.Literal('cold')])) });
export const RebootVmInstance = vmAction('RebootVmInstance', 'Reboot a running VM');
export const PauseVmInstance = vmAction('PauseVmInstance', 'Pause a running VM');
export const ResumeVmInstance = vmAction('ResumeVmInstance', 'Resume a paused VM');
export const RecoverVmInstance = vmAction('RecoverVmInstance', 'Bring a destroyed VM back as Stopped');
export const UpdateVmInstance = vmAction('UpdateVmInstance', 'Update a VM: name and description at any time; cpuNum and memorySize while it is Stopped', {
  name: Type.Optional(P.name()),
  description: P.description(),
  defaultL3NetworkUuid: Type.Optional(P.uuid()),
  cpuNum: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_CPU_NUM })),
  memorySize: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_MEMORY_SIZE })),
});

export const ExpungeVmInstance = defineApi({
  name: 'ExpungeVmInstance', service: 'vm', kind: 'async', method: 'PUT', path: '/vm-instances/{uuid}/actions',
  params: { uuid: P.uuid() },
  resourceUuidParam: 'uuid',
  result: { none: true },
  description: 'Remove a destroyed VM for good: its IPs, its root volume (data volumes are detached) and its record',
});

export const DestroyVmInstance = defineApi({
  name: 'DestroyVmInstance', service: 'vm', kind: 'async', method: 'DELETE', path: '/vm-instances/{uuid}',
  params: { uuid: P.uuid() },
  resourceUuidParam: 'uuid',
  result: { none: true },
  description: 'Destroy a VM as vm.deletionPolicy says: Delay keeps it Destroyed (recoverable until expunged), Direct expunges it with its root volume, Never removes the VM but keeps its root volume',
});

export const QueryVmInstance = defineQueryApi({ name: 'QueryVmInstance', inventory: 'VmInstanceInventory', path: '/vm-instances' });
export const QueryVmNic = defineQueryApi({ name: 'QueryVmNic', inventory: 'VmNicInventory', path: '/vm-instances/nics' });


export const MigrateVm = defineApi({
  // ZStack names the path variable vmInstanceUuid; the REST server routes one variable name per path, and the name is not on the wire.
  name: 'MigrateVm', service: 'vm', kind: 'async', method: 'PUT', path: '/vm-instances/{uuid}/actions',
  params: { uuid: P.uuid(), hostUuid: Type.Optional(P.uuid()) },
  resourceUuidParam: 'uuid',
  result: { inventory: 'VmInstanceInventory' },
  // Local disks are copied along: large ones take long (the agents' calls are bounded by this).
  timeoutMs: 3 * 3600_000,
  description: 'Live-migrate a running VM to another host: the one given, or one the allocator chooses (never its current host)',
});

export const vmApis = [CreateVmInstance, StartVmInstance, StopVmInstance, RebootVmInstance, PauseVmInstance, ResumeVmInstance, DestroyVmInstance, RecoverVmInstance, ExpungeVmInstance, UpdateVmInstance, MigrateVm, QueryVmInstance, QueryVmNic, ...vmNicApis, ...vmVolumeApis];
