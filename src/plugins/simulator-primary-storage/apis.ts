import { Type } from '@sinclair/typebox';
import { defineApi, P } from '../../core/api/define-api.ts';

/** 1 EiB: larger than any storage anyone will simulate, small enough to stay an exact integer. */
const MAX_CAPACITY = 1024 ** 6;
const capacity = () => Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_CAPACITY }));

export const AddSimulatorPrimaryStorage = defineApi({
  name: 'AddSimulatorPrimaryStorage', service: 'simulator-primary-storage', kind: 'async', method: 'POST', path: '/primary-storage/simulators', create: true, tagResourceType: 'PrimaryStorageVO', adminOnly: true,
  params: {
    totalCapacity: capacity(),
    availableCapacity: capacity(),
    availablePhysicalCapacity: capacity(),
    totalPhysicalCapacity: capacity(),
    url: Type.String({ minLength: 1, maxLength: 2048 }),
    name: P.name(),
    description: P.description(),
    type: Type.Optional(Type.String({ maxLength: 255 })),
    zoneUuid: P.uuid(),
  },
  result: { inventory: 'PrimaryStorageInventory' },
  description: 'Add a simulated primary storage with the given capacity',
});

export const simulatorPrimaryStorageApis = [AddSimulatorPrimaryStorage];
