import { observerPoint } from '../core/plugin/index.ts';

/**
 * Security groups (ZStack's `plugin/securityGroup`): groups, their rules, the L3 networks they are
 * attached to and the VM NICs that are members. Host-side backends (plugins/security-group-kvm: the
 * agents' iptables on KVM hosts, kept by simulated hosts too) realize the rules from the membership
 * observers (`SecurityGroupMembershipPoint`), called on the node that made the change;
 * `SecurityGroupEvents` tell every node (for information: no backend re-applies from them).
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

/** Events every node receives after a change (the backend re-applies from the observers instead, once). */
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
  /**
   * A group's effective rules changed (rules added or deleted, the group enabled or disabled, a remote
   * group deleted): called once, on the node that made the change, after it is committed. The same
   * change is also published as `SecurityGroupEvents.rulesChanged` to every node.
   */
  afterRulesChanged?(e: SecurityGroupRulesChangedEvent): void | Promise<void>;
}

export const SecurityGroupMembershipPoint = observerPoint<SecurityGroupMembership>('securityGroup.membership');

/**
 * What the node sends a KVM host's agent to realize security groups (ZStack's kvmagent
 * `securitygroup_plugin` paths). Declarative: a NIC's chains are rebuilt from what the command says,
 * never patched, so sending the same command twice changes nothing.
 */
export const SecurityGroupAgentPaths = {
  /** The rules of the NICs listed (others on the host are left alone). */
  applyRules: '/securitygroup/applyrules',
  /** The whole set of member NICs on the host: chains of NICs not listed are removed. */
  refreshRulesOnHost: '/securitygroup/refreshrulesonhost',
  /** Removes the chains of NICs whose tap no longer exists on the host. */
  cleanupUnusedRules: '/securitygroup/cleanupunusedrules',
} as const;

/** One rule as a host realizes it: a group's rule with its remote group resolved to that group's member IPs. */
export interface SecurityGroupRuleTO {
  type: SecurityGroupRuleType;
  protocol: SecurityGroupRuleProtocol;
  ipVersion: number;
  /** -1 for ICMP and ALL. */
  startPort: number;
  endPort: number;
  /** Source (Ingress) or destination (Egress) CIDR; ignored when `remoteGroupIps` is given. */
  allowedCidr: string;
  /** Set when the rule names a remote group: the IPs of its member NICs (empty: the rule matches nothing). */
  remoteGroupIps?: string[] | null;
  action: 'ACCEPT' | 'DROP';
  priority: number;
}

/** A member NIC on the host: its tap, its addresses (anti-spoofing) and its groups, first group first. */
export interface SecurityGroupNicTO {
  vmNicUuid: string;
  /** The tap's name (the NIC's internalName, ≤ 15 characters). */
  internalName: string;
  mac: string;
  ips: string[];
  securityGroupUuids: string[];
  /** What traffic no rule matched gets: ingress DENY and egress ALLOW unless said otherwise (ZStack's defaults). */
  ingressPolicy?: 'DENY' | 'ALLOW';
  egressPolicy?: 'DENY' | 'ALLOW';
  /** `deleteChain` removes the NIC's chains (it left every group, or the VM left the host). Default `applyChain`. */
  actionCode?: 'applyChain' | 'deleteChain';
}

/** Body of `applyRules` and `refreshRulesOnHost`: the NICs and the rules of every group they name. */
export interface ApplySecurityGroupRulesCmd {
  nics: SecurityGroupNicTO[];
  /** Rules by security group uuid (only Enabled rules; an Enabled group's). */
  rules: Record<string, SecurityGroupRuleTO[]>;
}
