import { Type } from '@sinclair/typebox';
import { HOST_ALLOCATOR_STRATEGIES } from '../../contracts/offering.ts';
import { defineApi, defineQueryApi, P } from '../../core/api/define-api.ts';

/** Upper bounds nobody sane exceeds: 1024 vCPUs (ZStack's own limit), 16 TiB of memory, 1 PiB disks. */
export const MAX_CPU_NUM = 1024;
export const MAX_MEMORY_SIZE = 16 * 1024 ** 4;
export const MAX_DISK_SIZE = 1024 ** 5;

const sortKey = () => Type.Optional(Type.Integer({ minimum: -2147483648, maximum: 2147483647 }));
const allocatorStrategy = () => Type.Union(HOST_ALLOCATOR_STRATEGIES.map((s) => Type.Literal(s)));

export const CreateInstanceOffering = defineApi({
  name: 'CreateInstanceOffering', service: 'offering', kind: 'async', method: 'POST', path: '/instance-offerings', create: true, tagResourceType: 'InstanceOfferingVO', adminOnly: true,
  params: {
    name: P.name(),
    description: P.description(),
    cpuNum: Type.Integer({ minimum: 1, maximum: MAX_CPU_NUM }),
    cpuSpeed: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
    memorySize: Type.Integer({ minimum: 1, maximum: MAX_MEMORY_SIZE, description: 'bytes' }),
    reservedMemorySize: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_MEMORY_SIZE, description: 'bytes, at most memorySize' })),
    allocatorStrategy: Type.Optional(allocatorStrategy()),
    sortKey: sortKey(),
    type: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
  },
  result: { inventory: 'InstanceOfferingInventory' },
  description: 'Create an instance offering: the CPU, memory and host allocator strategy of a VM',
});

export const UpdateInstanceOffering = defineApi({
  name: 'UpdateInstanceOffering', service: 'offering', kind: 'async', method: 'PUT', path: '/instance-offerings/{uuid}/actions', adminOnly: true,
  params: { uuid: P.uuid(), name: Type.Optional(P.name()), description: P.description(), allocatorStrategy: Type.Optional(allocatorStrategy()) },
  resourceUuidParam: 'uuid',
  result: { inventory: 'InstanceOfferingInventory' },
  description: 'Update the name, description or allocator strategy of an instance offering',
});

export const ChangeInstanceOfferingState = defineApi({
  name: 'ChangeInstanceOfferingState', service: 'offering', kind: 'async', method: 'PUT', path: '/instance-offerings/{uuid}/actions', adminOnly: true,
  params: { uuid: P.uuid(), stateEvent: P.stateEvent() },
  resourceUuidParam: 'uuid',
  result: { inventory: 'InstanceOfferingInventory' },
  description: 'Enable or disable an instance offering (a disabled one creates no new VMs)',
});

export const DeleteInstanceOffering = defineApi({
  name: 'DeleteInstanceOffering', service: 'offering', kind: 'async', method: 'DELETE', path: '/instance-offerings/{uuid}', adminOnly: true,
  params: { uuid: P.uuid() },
  resourceUuidParam: 'uuid',
  result: { none: true },
  description: 'Delete an instance offering; VMs created from it keep running',
});

export const QueryInstanceOffering = defineQueryApi({ name: 'QueryInstanceOffering', inventory: 'InstanceOfferingInventory', path: '/instance-offerings' });

export const CreateDiskOffering = defineApi({
  name: 'CreateDiskOffering', service: 'offering', kind: 'async', method: 'POST', path: '/disk-offerings', create: true, tagResourceType: 'DiskOfferingVO', adminOnly: true,
  params: {
    name: P.name(),
    description: P.description(),
    diskSize: Type.Integer({ minimum: 1, maximum: MAX_DISK_SIZE, description: 'bytes' }),
    sortKey: sortKey(),
    allocationStrategy: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    type: Type.Optional(Type.Literal('zstack')),
  },
  result: { inventory: 'DiskOfferingInventory' },
  description: 'Create a disk offering: the size of a data volume',
});

export const UpdateDiskOffering = defineApi({
  name: 'UpdateDiskOffering', service: 'offering', kind: 'async', method: 'PUT', path: '/disk-offerings/{uuid}/actions', adminOnly: true,
  params: { uuid: P.uuid(), name: Type.Optional(P.name()), description: P.description() },
  resourceUuidParam: 'uuid',
  result: { inventory: 'DiskOfferingInventory' },
  description: 'Update the name or description of a disk offering',
});

export const ChangeDiskOfferingState = defineApi({
  name: 'ChangeDiskOfferingState', service: 'offering', kind: 'async', method: 'PUT', path: '/disk-offerings/{uuid}/actions', adminOnly: true,
  params: { uuid: P.uuid(), stateEvent: P.stateEvent() },
  resourceUuidParam: 'uuid',
  result: { inventory: 'DiskOfferingInventory' },
  description: 'Enable or disable a disk offering',
});

export const DeleteDiskOffering = defineApi({
  name: 'DeleteDiskOffering', service: 'offering', kind: 'async', method: 'DELETE', path: '/disk-offerings/{uuid}', adminOnly: true,
  params: { uuid: P.uuid() },
  resourceUuidParam: 'uuid',
  result: { none: true },
  description: 'Delete a disk offering; volumes created from it stay',
});

export const QueryDiskOffering = defineQueryApi({ name: 'QueryDiskOffering', inventory: 'DiskOfferingInventory', path: '/disk-offerings' });

export const offeringApis = [
  CreateInstanceOffering, UpdateInstanceOffering, ChangeInstanceOfferingState, DeleteInstanceOffering, QueryInstanceOffering,
  CreateDiskOffering, UpdateDiskOffering, ChangeDiskOfferingState, DeleteDiskOffering, QueryDiskOffering,
];
