import { observerPoint } from '../core/plugin/index.ts';

/**
 * Security groups (ZStack's `plugin/securityGroup`): groups, their rules, the L3 networks they are
 * attached to and the VM NICs that are members. Host-side backends (iptables on a KVM host, the
 * simulator) listen to `SecurityGroupEvents` and the membership observers to realize the rules.
 */

export type SecurityGroupRuleType = 'Ingress' | 'Egress';
export type SecurityGroupRuleProtocol = 'TCP' | 'UDP' | 'ICMP' | 'ALL';

/** ZStack's SecurityGroupRuleInventory. */
export interface SecurityGroupRuleView {
  uuid: string;
  securityGroupUuid: string;
  type: SecurityGroupRuleType;
  ipVersion: number;
  protocol: SecurityGroupRuleProtocol;
  state: 'Enabled' | 'Disabled';
  priority: number;
  description: string | null;
  action: 'ACCEPT' | 'DROP';
  remoteSecurityGroupUuid: string | null;
  allowedCidr: string;
  startPort: number;
  endPort: number;
}

export interface SecurityGroupView {
  uuid: string;
  name: string;
  description: string | null;
  state: 'Enabled' | 'Disabled';
  ipVersion: number;
  internalId: number;
}

/** ZStack's `SecurityGroupConstant`: the rules every new group starts with (priority 0, open to itself and the world). */
export const SecurityGroupConstants = {
  DEFAULT_RULE_DESCRIPTION: 'default rule',
  DEFAULT_RULE_PRIORITY: 0,
  WORLD_OPEN_CIDR: '0.0.0.0/0',
  WORLD_OPEN_CIDR_IPV6: '::/0',
} as const;

/** A NIC as the VM service describes it when it joins or leaves a group. */
export interface SecurityGroupMemberNic {
  vmNicUuid: string;
  vmInstanceUuid: string;
  /** The NIC's L3 network: the group must be attached to it. */
  l3NetworkUuid: string;
}

/** Body of `securityGroup.AddVmNics` (send with `resourceUuid: securityGroupUuid`). */
export interface AddVmNicsToSecurityGroupRequest {
  securityGroupUuid: string;
  nics: SecurityGroupMemberNic[];
}

/** Body of `securityGroup.RemoveVmNics`: from one group, or (no group) from every group (a NIC being deleted). */
export interface RemoveVmNicsFromSecurityGroupRequest {
  securityGroupUuid?: string;
  vmNicUuids: string[];
}

/**
 * Internal messages of the security-group service. The NIC membership APIs
 * (`POST /security-groups/{securityGroupUuid}/vm-instances/nics`, `DELETE …/vm-instances/nics`) are the
 * VM service's to expose once VM NICs exist: it resolves the NICs and sends these messages.
 */
export const SecurityGroupMessages = {
  /** Make NICs members of a group: every NIC's L3 network must be attached to it; already-members are skipped. */
  addVmNics: 'securityGroup.AddVmNics',
  /** Remove NICs from a group (or from all groups); removing a non-member succeeds. */
  removeVmNics: 'securityGroup.RemoveVmNics',
  /** Delete one group (cascade), in its queue. */
  delete: 'securityGroup.Delete',
} as const;

/** Events every node receives; host-side backends re-apply the rules of the groups named. */
export const SecurityGroupEvents = {
  /** `{securityGroupUuid, addedRuleUuids, deletedRuleUuids, reason}` when a group's rules changed (add, delete, group deleted). */
  rulesChanged: 'securityGroup.rulesChanged',
  /** `{securityGroupUuid, addedVmNicUuids, removedVmNicUuids}` when NICs joined or left a group. */
  membershipChanged: 'securityGroup.membershipChanged',
} as const;

export interface SecurityGroupRulesChangedEvent {
  securityGroupUuid: string;
  addedRuleUuids: string[];
  deletedRuleUuids: string[];
  reason: 'rulesAdded' | 'rulesDeleted' | 'groupDeleted' | 'remoteGroupDeleted' | 'stateChanged';
}

/**
 * Observers of NIC membership (ZStack's SecurityGroupHypervisorBackend is driven from here): a
 * backend applies or removes the group's rules for those NICs on their hosts. Errors are logged.
 */
export interface SecurityGroupMembership {
  afterNicsAdded?(securityGroupUuid: string, nics: readonly SecurityGroupMemberNic[]): void | Promise<void>;
  afterNicsRemoved?(securityGroupUuid: string, vmNicUuids: readonly string[]): void | Promise<void>;
}

export const SecurityGroupMembershipPoint = observerPoint<SecurityGroupMembership>('securityGroup.membership');
