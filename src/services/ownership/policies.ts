import { setTenantPolicy, type TenantPolicy } from '../../core/query/access-filter.ts';

/**
 * How normal accounts see each inventory (every other inventory is `owned`: its own uuid must be
 * owned by or shared with the account; infrastructure is owned by the administrator, so tenants
 * see none of it). Rows that belong to a resource are visible with that resource.
 */
export const TENANT_POLICIES: Record<string, TenantPolicy> = {
  // A root volume is made by the VM's create chain, not by an API of its own: it goes with its VM.
  VolumeInventory: { via: ['uuid', 'vmInstanceUuid'] },
  VmNicInventory: { via: ['vmInstanceUuid'] },
  VolumeSnapshotInventory: { via: ['uuid', 'volumeUuid'] },
  VolumeSnapshotTreeInventory: { via: ['volumeUuid'] },
  IpRangeInventory: { via: ['l3NetworkUuid'] },
  UsedIpInventory: { via: ['vmNicUuid'] },
  SecurityGroupRuleInventory: { via: ['securityGroupUuid'] },
  SecurityGroupL3NetworkRefInventory: { via: ['securityGroupUuid'] },
  VmNicSecurityGroupRefInventory: { via: ['securityGroupUuid'] },
  ImageBackupStorageRefInventory: { via: ['imageUuid'] },
  UserTagInventory: { via: ['resourceUuid'] },
  SystemTagInventory: { via: ['resourceUuid'] },
  // A session uuid is a credential: no tenant reads sessions, not even its own account's.
  SessionInventory: { account: 'accountUuid', adminOnly: true },
  AccountInventory: { account: 'uuid' },
  UserInventory: { account: 'accountUuid' },
  UserGroupInventory: { account: 'accountUuid' },
  PolicyInventory: { account: 'accountUuid' },
  AccessKeyInventory: { account: 'accountUuid' },
  AccountResourceRefInventory: { account: 'accountUuid' },
  SharedResourceInventory: { account: 'ownerAccountUuid' },
  QuotaInventory: { account: 'identityUuid' },
};

export function declareTenantPolicies(): void {
  for (const [name, policy] of Object.entries(TENANT_POLICIES)) setTenantPolicy(name, policy);
}

/** Resources a tenant uses but never owns: referring to them in an API is allowed; acting on them is not. */
export const INFRASTRUCTURE_TYPES = new Set(['ZoneVO', 'ClusterVO', 'HostVO', 'PrimaryStorageVO', 'BackupStorageVO', 'L2NetworkVO']);

/** What ShareResource accepts (ZStack shares images, L3 networks and offerings). */
export const SHAREABLE_INVENTORIES = ['ImageInventory', 'L3NetworkInventory', 'InstanceOfferingInventory', 'DiskOfferingInventory'];
