import { Type } from '@sinclair/typebox';
import { defineApi, defineQueryApi, P } from '../../core/api/define-api.ts';
import { securityGroupNicApis } from './nic-apis.ts';

const IP_VERSION = () => Type.Optional(Type.Union([Type.Literal(4), Type.Literal(6)]));

/** One rule of `AddSecurityGroupRule` (ZStack's SecurityGroupRuleAO); ports and CIDR are checked by the handler as ZStack's interceptor does. */
const RULE = Type.Object(
  {
    type: Type.Union([Type.Literal('Ingress'), Type.Literal('Egress')]),
    protocol: Type.Optional(Type.Union([Type.Literal('TCP'), Type.Literal('UDP'), Type.Literal('ICMP'), Type.Literal('ALL')])),
    startPort: Type.Optional(Type.Integer()),
    endPort: Type.Optional(Type.Integer()),
    allowedCidr: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    remoteSecurityGroupUuid: Type.Optional(P.uuid()),
    ipVersion: IP_VERSION(),
    state: Type.Optional(Type.Union([Type.Literal('Enabled'), Type.Literal('Disabled')])),
    action: Type.Optional(Type.Union([Type.Literal('ACCEPT'), Type.Literal('DROP')])),
    description: Type.Optional(Type.String({ maxLength: 2048 })),
  },
  { additionalProperties: false },
);

export const CreateSecurityGroup = defineApi({
  name: 'CreateSecurityGroup', service: 'securityGroup', kind: 'async', method: 'POST', path: '/security-groups', create: true, tagResourceType: 'SecurityGroupVO',
  params: { name: P.name(), description: P.description(), ipVersion: IP_VERSION() },
  result: { inventory: 'SecurityGroupInventory' },
  description: 'Create a security group with its default rules (ingress and egress open to members, IPv4 and IPv6)',
});

export const UpdateSecurityGroup = defineApi({
  name: 'UpdateSecurityGroup', service: 'securityGroup', kind: 'async', method: 'PUT', path: '/security-groups/{uuid}/actions',
  params: { uuid: P.uuid(), name: Type.Optional(P.name()), description: P.description() },
  resourceUuidParam: 'uuid', result: { inventory: 'SecurityGroupInventory' }, description: 'Update the name or description of a security group',
});

export const ChangeSecurityGroupState = defineApi({
  name: 'ChangeSecurityGroupState', service: 'securityGroup', kind: 'async', method: 'PUT', path: '/security-groups/{uuid}/actions',
  params: { uuid: P.uuid(), stateEvent: P.stateEvent() },
  resourceUuidParam: 'uuid', result: { inventory: 'SecurityGroupInventory' }, description: 'Enable or disable a security group',
});

export const DeleteSecurityGroup = defineApi({
  name: 'DeleteSecurityGroup', service: 'securityGroup', kind: 'async', method: 'DELETE', path: '/security-groups/{uuid}',
  params: { uuid: P.uuid() },
  resourceUuidParam: 'uuid', result: { none: true }, description: 'Delete a security group, its rules, its L3 attachments and memberships, and rules of other groups naming it as remote',
});

export const AddSecurityGroupRule = defineApi({
  name: 'AddSecurityGroupRule', service: 'securityGroup', kind: 'async', method: 'POST', path: '/security-groups/{securityGroupUuid}/rules',
  params: { securityGroupUuid: P.uuid(), rules: Type.Array(RULE, { minItems: 1, maxItems: 100 }) },
  resourceUuidParam: 'securityGroupUuid', result: { inventory: 'SecurityGroupInventory' }, description: 'Add rules to a security group; a rule equal to an existing one is refused',
});

export const DeleteSecurityGroupRule = defineApi({
  name: 'DeleteSecurityGroupRule', service: 'securityGroup', kind: 'async', method: 'DELETE', path: '/security-groups/rules',
  params: { ruleUuids: Type.Array(P.uuid(), { minItems: 1, maxItems: 1000 }) },
  result: { inventory: 'SecurityGroupInventory' }, description: 'Delete rules (of one security group); unknown rule uuids are ignored',
});

export const AttachSecurityGroupToL3Network = defineApi({
  name: 'AttachSecurityGroupToL3Network', service: 'securityGroup', kind: 'async', method: 'POST', path: '/security-groups/{securityGroupUuid}/l3-networks/{l3NetworkUuid}',
  params: { securityGroupUuid: P.uuid(), l3NetworkUuid: P.uuid() },
  resourceUuidParam: 'securityGroupUuid', result: { inventory: 'SecurityGroupInventory' }, description: 'Attach a security group to an L3 network that has the SecurityGroup network service',
});

export const DetachSecurityGroupFromL3Network = defineApi({
  name: 'DetachSecurityGroupFromL3Network', service: 'securityGroup', kind: 'async', method: 'DELETE', path: '/security-groups/{securityGroupUuid}/l3-networks/{l3NetworkUuid}',
  params: { securityGroupUuid: P.uuid(), l3NetworkUuid: P.uuid() },
  resourceUuidParam: 'securityGroupUuid', result: { inventory: 'SecurityGroupInventory' }, description: 'Detach a security group from an L3 network; NICs of that network leave the group',
});

export const QuerySecurityGroup = defineQueryApi({ name: 'QuerySecurityGroup', inventory: 'SecurityGroupInventory', path: '/security-groups' });
export const QuerySecurityGroupRule = defineQueryApi({ name: 'QuerySecurityGroupRule', inventory: 'SecurityGroupRuleInventory', path: '/security-groups/rules' });

export const securityGroupApis = [
  CreateSecurityGroup, UpdateSecurityGroup, ChangeSecurityGroupState, DeleteSecurityGroup, AddSecurityGroupRule, DeleteSecurityGroupRule,
  AttachSecurityGroupToL3Network, DetachSecurityGroupFromL3Network, QuerySecurityGroup, QuerySecurityGroupRule, ...securityGroupNicApis,
];
