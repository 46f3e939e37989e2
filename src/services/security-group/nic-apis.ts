import { Type } from '@sinclair/typebox';
import { defineApi, defineQueryApi, P } from '../../core/api/define-api.ts';

const nicUuids = () => Type.Array(P.uuid(), { minItems: 1, maxItems: 1000 });

export const AddVmNicToSecurityGroup = defineApi({
  name: 'AddVmNicToSecurityGroup', service: 'securityGroup', kind: 'async', method: 'POST', path: '/security-groups/{securityGroupUuid}/vm-instances/nics',
  params: { securityGroupUuid: P.uuid(), vmNicUuids: nicUuids() },
  resourceUuidParam: 'securityGroupUuid', result: { none: true },
  description: 'Make VM NICs members of a security group; the group must be attached to every NIC\'s L3 network; members already in are skipped',
});

export const DeleteVmNicFromSecurityGroup = defineApi({
  name: 'DeleteVmNicFromSecurityGroup', service: 'securityGroup', kind: 'async', method: 'DELETE', path: '/security-groups/{securityGroupUuid}/vm-instances/nics',
  params: { securityGroupUuid: P.uuid(), vmNicUuids: nicUuids() },
  resourceUuidParam: 'securityGroupUuid', result: { none: true },
  description: 'Remove VM NICs from a security group; a NIC that is not a member is ignored',
});

export const QueryVmNicInSecurityGroup = defineQueryApi({ name: 'QueryVmNicInSecurityGroup', inventory: 'VmNicSecurityGroupRefInventory', path: '/security-groups/vm-instances/nics' });

export const securityGroupNicApis = [AddVmNicToSecurityGroup, DeleteVmNicFromSecurityGroup, QueryVmNicInSecurityGroup];
