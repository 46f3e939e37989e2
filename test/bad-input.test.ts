import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCatalog } from '../src/api/catalog.ts';
import type { ApiDef } from '../src/core/api/define-api.ts';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { IdentityErrors, SysErrors } from '../src/core/errors/index.ts';
import type { ServiceModule } from '../src/core/node-context.ts';
import { newUuid } from '../src/core/util/uuid.ts';
import { ADMIN_ACCOUNT_UUID } from '../src/services/identity/schema.ts';
import { pathVars, toRequest, uuidParams, wrongTypeFor, type CatalogRequest } from './support/catalog-requests.ts';
import { configValues, countRows, createCluster, createZone, COUNTED_TABLES } from './support/integration.ts';
import { sha512, startTestNode, type RawResponse, type TestClient, type TestNode } from './support/test-node.ts';

interface Fixtures {
  zone: string;
  cluster: string;
  userTag: string;
  systemTag: string;
  session: string;
  instanceOffering: string;
  diskOffering: string;
  backupStorage: string;
  image: string;
  simulatorCluster: string;
  host: string;
  primaryStorage: string;
  volume: string;
  l2Network: string;
  vxlanPool: string;
  vniRange: string;
  l3Network: string;
  ipRange: string;
  networkServiceProvider: string;
  securityGroup: string;
  securityGroupRule: string;
  publicL3Network: string;
  publicIpRange: string;
  vip: string;
  freeVip: string;
  eip: string;
  vm: string;
  vmNic: string;
  account: string;
  user: string;
  userGroup: string;
  policy: string;
  accessKey: string;
}

/**
 * A valid parameter set for every API in the catalog: each bad request below differs from it in
 * exactly one way. An API added to the catalog without an entry here fails the suite on purpose.
 */
const VALID: Record<string, (f: Fixtures) => Record<string, unknown>> = {
  LogInByAccount: () => ({ accountName: 'admin', password: sha512('password') }),
  LogOut: (f) => ({ sessionUuid: f.session }),
  ValidateSession: (f) => ({ sessionUuid: f.session }),
  GetTaskProgress: (f) => ({ apiId: f.zone, all: true }),
  RenewSession: (f) => ({ sessionUuid: f.session, duration: 3600 }),
  QueryAccount: () => ({ limit: 10 }),
  LogInByUser: () => ({ accountName: 'admin', userName: 'bad-input-user', password: sha512('password'), clientInfo: { browser: 'x' } }),
  CreateAccount: () => ({ name: 'bad-input-new-account', password: sha512('x'), type: 'Normal', description: 'd' }),
  UpdateAccount: (f) => ({ uuid: f.account, name: 'renamed', description: 'd', password: sha512('y'), oldPassword: sha512('x') }),
  DeleteAccount: (f) => ({ uuid: f.account }),
  CreateUser: () => ({ name: 'bad-input-new-user', password: sha512('x'), description: 'd' }),
  UpdateUser: (f) => ({ uuid: f.user, name: 'renamed', description: 'd', password: sha512('y'), oldPassword: sha512('x') }),
  DeleteUser: (f) => ({ uuid: f.user }),
  CreateUserGroup: () => ({ name: 'bad-input-new-group', description: 'd' }),
  UpdateUserGroup: (f) => ({ uuid: f.userGroup, name: 'renamed', description: 'd' }),
  DeleteUserGroup: (f) => ({ uuid: f.userGroup }),
  AddUserToGroup: (f) => ({ groupUuid: f.userGroup, userUuid: f.user }),
  RemoveUserFromGroup: (f) => ({ groupUuid: f.userGroup, userUuid: f.user }),
  CreatePolicy: () => ({ name: 'bad-input-new-policy', description: 'd', statements: [{ name: 's', effect: 'Allow', principals: [], actions: ['*'], resources: ['*'] }] }),
  DeletePolicy: (f) => ({ uuid: f.policy }),
  AttachPolicyToUser: (f) => ({ userUuid: f.user, policyUuid: f.policy }),
  DetachPolicyFromUser: (f) => ({ userUuid: f.user, policyUuid: f.policy }),
  AttachPolicyToUserGroup: (f) => ({ groupUuid: f.userGroup, policyUuid: f.policy }),
  DetachPolicyFromUserGroup: (f) => ({ groupUuid: f.userGroup, policyUuid: f.policy }),
  CreateAccessKey: (f) => ({ accountUuid: ADMIN_ACCOUNT_UUID, userUuid: f.user, description: 'd', AccessKeyID: 'A'.repeat(20), AccessKeySecret: 'b'.repeat(40) }),
  ChangeAccessKeyState: (f) => ({ uuid: f.accessKey, stateEvent: 'disable' }),
  DeleteAccessKey: (f) => ({ uuid: f.accessKey }),
  QueryUser: () => ({ limit: 10 }),
  QueryUserGroup: () => ({ limit: 10 }),
  QueryPolicy: () => ({ limit: 10 }),
  QueryAccessKey: () => ({ limit: 10 }),
  QueryAudit: () => ({ limit: 10 }),
  ShareResource: (f) => ({ resourceUuids: [f.image], accountUuids: [ADMIN_ACCOUNT_UUID], toPublic: false }),
  RevokeResourceSharing: (f) => ({ resourceUuids: [f.image], accountUuids: [ADMIN_ACCOUNT_UUID], toPublic: false, all: false }),
  ChangeResourceOwner: (f) => ({ accountUuid: ADMIN_ACCOUNT_UUID, resourceUuid: f.image }),
  QueryAccountResourceRef: () => ({ limit: 10 }),
  QuerySharedResource: () => ({ limit: 10 }),
  UpdateQuota: () => ({ identityUuid: ADMIN_ACCOUNT_UUID, name: 'vm.num', value: 10 }),
  GetAccountQuotaUsage: () => ({ uuid: ADMIN_ACCOUNT_UUID }),
  QueryQuota: () => ({ limit: 10 }),
  ZQLQuery: () => ({ zql: 'query zone' }),
  CreateZone: () => ({ name: 'bad-input-new-zone', description: 'd', isDefault: false }),
  UpdateZone: (f) => ({ uuid: f.zone, name: 'renamed', isDefault: false }),
  ChangeZoneState: (f) => ({ uuid: f.zone, stateEvent: 'disable' }),
  DeleteZone: (f) => ({ uuid: f.zone, deleteMode: 'Permissive' }),
  QueryZone: () => ({ limit: 10, count: false }),
  CreateCluster: (f) => ({ zoneUuid: f.zone, name: 'bad-input-new-cluster', hypervisorType: 'KVM' }),
  UpdateCluster: (f) => ({ uuid: f.cluster, name: 'renamed' }),
  ChangeClusterState: (f) => ({ uuid: f.cluster, stateEvent: 'disable' }),
  DeleteCluster: (f) => ({ uuid: f.cluster }),
  QueryCluster: () => ({ limit: 10 }),
  CreateUserTag: (f) => ({ resourceType: 'ZoneVO', resourceUuid: f.zone, tag: 'new-user-tag' }),
  CreateSystemTag: (f) => ({ resourceType: 'ZoneVO', resourceUuid: f.zone, tag: 'colour::blue' }),
  UpdateSystemTag: (f) => ({ uuid: f.systemTag, tag: 'colour::green' }),
  DeleteTag: (f) => ({ uuid: f.userTag }),
  QuerySystemTag: () => ({ limit: 10 }),
  QueryUserTag: () => ({ limit: 10 }),
  UpdateGlobalConfig: () => ({ category: 'identity', name: 'session.timeout', value: '3600' }),
  QueryGlobalConfig: () => ({ limit: 10 }),
  AddSimulatorHost: (f) => ({ name: 'bad-input-new-host', managementIp: '10.250.0.2', clusterUuid: f.simulatorCluster, cpuCapacity: 8, memoryCapacity: 8 * 1024 ** 3 }),
  AddKVMHost: (f) => ({ name: 'bad-input-kvm-host', managementIp: '10.250.0.3', clusterUuid: f.cluster, username: 'root', password: 'password', sshPort: 22 }),
  UpdateHost: (f) => ({ uuid: f.host, name: 'renamed' }),
  ChangeHostState: (f) => ({ uuid: f.host, stateEvent: 'disable' }),
  ReconnectHost: (f) => ({ uuid: f.host }),
  DeleteHost: (f) => ({ uuid: f.host }),
  QueryHost: () => ({ limit: 10 }),
  CreateInstanceOffering: () => ({ name: 'bad-input-io', cpuNum: 1, memorySize: 1073741824, allocatorStrategy: 'DefaultHostAllocatorStrategy', sortKey: 0 }),
  UpdateInstanceOffering: (f) => ({ uuid: f.instanceOffering, name: 'renamed' }),
  ChangeInstanceOfferingState: (f) => ({ uuid: f.instanceOffering, stateEvent: 'disable' }),
  DeleteInstanceOffering: (f) => ({ uuid: f.instanceOffering }),
  QueryInstanceOffering: () => ({ limit: 10 }),
  CreateDiskOffering: () => ({ name: 'bad-input-do', diskSize: 1073741824, sortKey: 0 }),
  UpdateDiskOffering: (f) => ({ uuid: f.diskOffering, name: 'renamed' }),
  ChangeDiskOfferingState: (f) => ({ uuid: f.diskOffering, stateEvent: 'disable' }),
  DeleteDiskOffering: (f) => ({ uuid: f.diskOffering }),
  QueryDiskOffering: () => ({ limit: 10 }),
  AddImageStoreBackupStorage: () => ({ name: 'bad-input-is', url: '/zstack_bs', hostname: '10.0.0.9', username: 'root', password: 'p', sshPort: 22 }),
  AddSimulatorBackupStorage: () => ({ name: 'bad-input-sim', url: '/sim/new', totalCapacity: 1073741824, availableCapacity: 1073741824 }),
  UpdateBackupStorage: (f) => ({ uuid: f.backupStorage, name: 'renamed' }),
  ChangeBackupStorageState: (f) => ({ uuid: f.backupStorage, stateEvent: 'disable' }),
  ReconnectBackupStorage: (f) => ({ uuid: f.backupStorage }),
  DeleteBackupStorage: (f) => ({ uuid: f.backupStorage }),
  AttachBackupStorageToZone: (f) => ({ zoneUuid: f.zone, backupStorageUuid: f.backupStorage }),
  DetachBackupStorageFromZone: (f) => ({ zoneUuid: f.zone, backupStorageUuid: f.backupStorage }),
  QueryBackupStorage: () => ({ limit: 10 }),
  AddImage: (f) => ({ name: 'bad-input-image', url: 'http://images.example/new.qcow2', format: 'qcow2', mediaType: 'RootVolumeTemplate', platform: 'Linux', system: false, backupStorageUuids: [f.backupStorage] }),
  UpdateImage: (f) => ({ uuid: f.image, name: 'renamed', system: false }),
  ChangeImageState: (f) => ({ uuid: f.image, stateEvent: 'disable' }),
  DeleteImage: (f) => ({ uuid: f.image }),
  RecoverImage: (f) => ({ uuid: f.image }),
  ExpungeImage: (f) => ({ uuid: f.image }),
  QueryImage: () => ({ limit: 10 }),
  CreateL2NoVlanNetwork: (f) => ({ name: 'bad-input-l2', zoneUuid: f.zone, physicalInterface: 'eth0', vSwitchType: 'LinuxBridge' }),
  CreateL2VlanNetwork: (f) => ({ name: 'bad-input-vlan', zoneUuid: f.zone, physicalInterface: 'eth0', vlan: 100 }),
  CreateL2VxlanNetworkPool: (f) => ({ name: 'bad-input-pool', zoneUuid: f.zone }),
  CreateL2VxlanNetwork: (f) => ({ name: 'bad-input-vxlan', poolUuid: f.vxlanPool, vni: 10 }),
  CreateVniRange: (f) => ({ l2NetworkUuid: f.vxlanPool, name: 'bad-input-vni', startVni: 500, endVni: 600 }),
  DeleteVniRange: (f) => ({ uuid: f.vniRange }),
  UpdateL2Network: (f) => ({ uuid: f.l2Network, name: 'renamed' }),
  DeleteL2Network: (f) => ({ uuid: f.l2Network }),
  AttachL2NetworkToCluster: (f) => ({ l2NetworkUuid: f.l2Network, clusterUuid: f.cluster }),
  DetachL2NetworkFromCluster: (f) => ({ l2NetworkUuid: f.l2Network, clusterUuid: f.cluster }),
  QueryL2Network: () => ({ limit: 10 }),
  QueryL2VlanNetwork: () => ({ limit: 10 }),
  QueryL2VxlanNetwork: () => ({ limit: 10 }),
  QueryL2VxlanNetworkPool: () => ({ limit: 10 }),
  QueryVniRange: () => ({ limit: 10 }),
  CreateL3Network: (f) => ({ name: 'bad-input-l3', l2NetworkUuid: f.l2Network, category: 'Private', system: false }),
  UpdateL3Network: (f) => ({ uuid: f.l3Network, name: 'renamed' }),
  ChangeL3NetworkState: (f) => ({ uuid: f.l3Network, stateEvent: 'disable' }),
  DeleteL3Network: (f) => ({ uuid: f.l3Network }),
  AddIpRange: (f) => ({ l3NetworkUuid: f.l3Network, name: 'r2', startIp: '10.99.0.100', endIp: '10.99.0.110', netmask: '255.255.255.0', gateway: '10.99.0.1' }),
  AddIpRangeByNetworkCidr: (f) => ({ l3NetworkUuid: f.l3Network, name: 'r3', networkCidr: '10.98.0.0/24' }),
  DeleteIpRange: (f) => ({ uuid: f.ipRange }),
  AddDnsToL3Network: (f) => ({ l3NetworkUuid: f.l3Network, dns: '8.8.8.8' }),
  RemoveDnsFromL3Network: (f) => ({ l3NetworkUuid: f.l3Network, dns: '8.8.4.4' }),
  GetFreeIpOfL3Network: (f) => ({ l3NetworkUuid: f.l3Network, ipRangeUuid: f.ipRange, limit: 5 }),
  CheckIpAvailability: (f) => ({ l3NetworkUuid: f.l3Network, ip: '10.99.0.20', ipRangeCheck: true }),
  QueryL3Network: () => ({ limit: 10 }),
  QueryIpRange: () => ({ limit: 10 }),
  QueryIpAddress: () => ({ limit: 10 }),
  AttachNetworkServiceToL3Network: (f) => ({ l3NetworkUuid: f.l3Network, networkServices: { [f.networkServiceProvider]: ['DHCP'] } }),
  DetachNetworkServiceFromL3Network: (f) => ({ l3NetworkUuid: f.l3Network, service: 'DHCP' }),
  GetNetworkServiceTypes: () => ({}),
  QueryNetworkServiceProvider: () => ({ limit: 10 }),
  QueryNetworkServiceL3NetworkRef: () => ({ limit: 10 }),
  CreateSecurityGroup: () => ({ name: 'bad-input-sg', description: 'd', ipVersion: 4 }),
  UpdateSecurityGroup: (f) => ({ uuid: f.securityGroup, name: 'renamed' }),
  ChangeSecurityGroupState: (f) => ({ uuid: f.securityGroup, stateEvent: 'disable' }),
  DeleteSecurityGroup: (f) => ({ uuid: f.securityGroup }),
  AddSecurityGroupRule: (f) => ({ securityGroupUuid: f.securityGroup, rules: [{ type: 'Ingress', protocol: 'TCP', startPort: 8000, endPort: 8001, allowedCidr: '10.0.0.0/8' }] }),
  DeleteSecurityGroupRule: (f) => ({ ruleUuids: [f.securityGroupRule] }),
  AttachSecurityGroupToL3Network: (f) => ({ securityGroupUuid: f.securityGroup, l3NetworkUuid: f.l3Network }),
  DetachSecurityGroupFromL3Network: (f) => ({ securityGroupUuid: f.securityGroup, l3NetworkUuid: f.l3Network }),
  QuerySecurityGroup: () => ({ limit: 10 }),
  QuerySecurityGroupRule: () => ({ limit: 10 }),
  AddVmNicToSecurityGroup: (f) => ({ securityGroupUuid: f.securityGroup, vmNicUuids: [f.vmNic] }),
  DeleteVmNicFromSecurityGroup: (f) => ({ securityGroupUuid: f.securityGroup, vmNicUuids: [f.vmNic] }),
  QueryVmNicInSecurityGroup: () => ({ limit: 10 }),
  CreateVip: (f) => ({ name: 'bad-input-vip', description: 'd', l3NetworkUuid: f.publicL3Network, ipRangeUuid: f.publicIpRange, requiredIp: '10.97.0.30' }),
  UpdateVip: (f) => ({ uuid: f.vip, name: 'renamed' }),
  ChangeVipState: (f) => ({ uuid: f.vip, stateEvent: 'disable' }),
  DeleteVip: (f) => ({ uuid: f.vip }),
  QueryVip: () => ({ limit: 10 }),
  CreateEip: (f) => ({ name: 'bad-input-eip', description: 'd', vipUuid: f.freeVip }),
  UpdateEip: (f) => ({ uuid: f.eip, name: 'renamed' }),
  ChangeEipState: (f) => ({ uuid: f.eip, stateEvent: 'disable' }),
  DeleteEip: (f) => ({ uuid: f.eip }),
  QueryEip: () => ({ limit: 10 }),
  AttachEip: (f) => ({ eipUuid: f.eip, vmNicUuid: f.vmNic }),
  DetachEip: (f) => ({ uuid: f.eip }),
  AddLocalPrimaryStorage: (f) => ({ name: 'bad-input-ls', description: 'd', url: '/local_ps', zoneUuid: f.zone }),
  AddSimulatorPrimaryStorage: (f) => ({ name: 'bad-input-sim-ps', url: '/sim/ps-new', zoneUuid: f.zone, totalCapacity: 1073741824, availableCapacity: 1073741824, totalPhysicalCapacity: 1073741824, availablePhysicalCapacity: 1073741824 }),
  UpdatePrimaryStorage: (f) => ({ uuid: f.primaryStorage, name: 'renamed', url: '/sim/renamed' }),
  ChangePrimaryStorageState: (f) => ({ uuid: f.primaryStorage, stateEvent: 'disable' }),
  ReconnectPrimaryStorage: (f) => ({ uuid: f.primaryStorage }),
  DeletePrimaryStorage: (f) => ({ uuid: f.primaryStorage }),
  AttachPrimaryStorageToCluster: (f) => ({ clusterUuid: f.cluster, primaryStorageUuid: f.primaryStorage }),
  DetachPrimaryStorageFromCluster: (f) => ({ clusterUuid: f.cluster, primaryStorageUuid: f.primaryStorage }),
  QueryPrimaryStorage: () => ({ limit: 10 }),
  QueryImageCache: () => ({ limit: 10 }),
  CreateDataVolume: (f) => ({ name: 'bad-input-volume', description: 'd', diskOfferingUuid: f.diskOffering, diskSize: 1073741824, primaryStorageUuid: f.primaryStorage }),
  DeleteDataVolume: (f) => ({ uuid: f.volume }),
  RecoverDataVolume: (f) => ({ uuid: f.volume }),
  ExpungeDataVolume: (f) => ({ uuid: f.volume }),
  UpdateVolume: (f) => ({ uuid: f.volume, name: 'renamed' }),
  ChangeVolumeState: (f) => ({ uuid: f.volume, stateEvent: 'disable' }),
  ResizeDataVolume: (f) => ({ uuid: f.volume, size: 2147483648 }),
  ResizeRootVolume: (f) => ({ uuid: f.volume, size: 2147483648 }),
  QueryVolume: () => ({ limit: 10 }),
  CreateVmInstance: (f) => ({ name: 'bad-input-new-vm', description: 'd', instanceOfferingUuid: f.instanceOffering, cpuNum: 1, memorySize: 1073741824, imageUuid: f.image, l3NetworkUuids: [f.l3Network], defaultL3NetworkUuid: f.l3Network, dataDiskOfferingUuids: [f.diskOffering], zoneUuid: f.zone, clusterUuid: f.simulatorCluster, hostUuid: f.host, primaryStorageUuidForRootVolume: f.primaryStorage, strategy: 'InstantStart', allocatorStrategy: 'DefaultHostAllocatorStrategy' }),
  StartVmInstance: (f) => ({ uuid: f.vm, clusterUuid: f.simulatorCluster, hostUuid: f.host }),
  StopVmInstance: (f) => ({ uuid: f.vm, type: 'grace' }),
  RebootVmInstance: (f) => ({ uuid: f.vm }),
  PauseVmInstance: (f) => ({ uuid: f.vm }),
  ResumeVmInstance: (f) => ({ uuid: f.vm }),
  DestroyVmInstance: (f) => ({ uuid: f.vm }),
  RecoverVmInstance: (f) => ({ uuid: f.vm }),
  ExpungeVmInstance: (f) => ({ uuid: f.vm }),
  UpdateVmInstance: (f) => ({ uuid: f.vm, name: 'renamed', description: 'd', defaultL3NetworkUuid: f.l3Network, cpuNum: 1, memorySize: 1073741824 }),
  QueryVmInstance: () => ({ limit: 10 }),
  MigrateVm: (f) => ({ uuid: f.vm, hostUuid: f.host }),
  QueryVmNic: () => ({ limit: 10 }),
  AttachDataVolumeToVm: (f) => ({ volumeUuid: f.volume, vmInstanceUuid: f.vm }),
  DetachDataVolumeFromVm: (f) => ({ uuid: f.volume, vmUuid: f.vm }),
  GetVmAttachableDataVolume: (f) => ({ vmInstanceUuid: f.vm }),
  AttachL3NetworkToVm: (f) => ({ vmInstanceUuid: f.vm, l3NetworkUuid: f.l3Network, staticIp: '10.99.0.40' }),
  DetachL3NetworkFromVm: (f) => ({ vmNicUuid: f.vmNic }),
  ChangeInstanceOffering: (f) => ({ uuid: f.vm, instanceOfferingUuid: f.instanceOffering }),
  // The snapshot APIs' valid sets are only ever sent with one thing wrong: the fixture volume (NotInstantiated) stands in for a snapshot uuid.
  CreateVolumeSnapshot: (f) => ({ volumeUuid: f.volume, name: 'bad-input-snapshot', description: 'd' }),
  UpdateVolumeSnapshot: (f) => ({ uuid: f.volume, name: 'renamed' }),
  DeleteVolumeSnapshot: (f) => ({ uuid: f.volume }),
  RevertVolumeFromSnapshot: (f) => ({ uuid: f.volume }),
  QueryVolumeSnapshot: () => ({ limit: 10 }),
  QueryVolumeSnapshotTree: () => ({ limit: 10 }),
  RequestConsoleAccess: (f) => ({ vmInstanceUuid: f.vm }),
  SetNicQos: (f) => ({ uuid: f.vmNic, inboundBandwidth: 1_000_000, outboundBandwidth: 2_000_000 }),
  GetNicQos: (f) => ({ uuid: f.vmNic, forceSync: false }),
  DeleteNicQos: (f) => ({ uuid: f.vmNic, direction: 'in' }),
};

/** What an unknown (well-formed) uuid in a uuid parameter is answered with. */
const UNKNOWN_UUID: Record<string, 'not-found' | 'invalid-session' | 'idempotent-ok' | 'login-refused'> = {
  // an unknown account is answered as a wrong password: names are not disclosed
  LogInByUser: 'login-refused',
  UpdateAccount: 'not-found',
  DeleteAccount: 'idempotent-ok',
  UpdateUser: 'not-found',
  DeleteUser: 'idempotent-ok',
  UpdateUserGroup: 'not-found',
  DeleteUserGroup: 'idempotent-ok',
  AddUserToGroup: 'not-found',
  RemoveUserFromGroup: 'not-found',
  DeletePolicy: 'idempotent-ok',
  AttachPolicyToUser: 'not-found',
  DetachPolicyFromUser: 'not-found',
  AttachPolicyToUserGroup: 'not-found',
  DetachPolicyFromUserGroup: 'not-found',
  CreateAccessKey: 'not-found',
  ChangeAccessKeyState: 'not-found',
  DeleteAccessKey: 'idempotent-ok',
  // a job that reported nothing (or expired) has no progress: an empty list, as ZStack answers
  GetTaskProgress: 'idempotent-ok',
  RenewSession: 'invalid-session',
  ShareResource: 'not-found',
  RevokeResourceSharing: 'not-found',
  ChangeResourceOwner: 'not-found',
  UpdateQuota: 'not-found',
  GetAccountQuotaUsage: 'not-found',
  UpdateZone: 'not-found',
  ChangeZoneState: 'not-found',
  DeleteZone: 'idempotent-ok',
  CreateCluster: 'not-found',
  UpdateCluster: 'not-found',
  ChangeClusterState: 'not-found',
  DeleteCluster: 'idempotent-ok',
  CreateUserTag: 'not-found',
  CreateSystemTag: 'not-found',
  UpdateSystemTag: 'not-found',
  DeleteTag: 'idempotent-ok',
  AddSimulatorHost: 'not-found',
  AddKVMHost: 'not-found',
  UpdateHost: 'not-found',
  ChangeHostState: 'not-found',
  ReconnectHost: 'not-found',
  DeleteHost: 'idempotent-ok',
  UpdateInstanceOffering: 'not-found',
  ChangeInstanceOfferingState: 'not-found',
  DeleteInstanceOffering: 'idempotent-ok',
  UpdateDiskOffering: 'not-found',
  ChangeDiskOfferingState: 'not-found',
  DeleteDiskOffering: 'idempotent-ok',
  UpdateBackupStorage: 'not-found',
  ChangeBackupStorageState: 'not-found',
  ReconnectBackupStorage: 'not-found',
  DeleteBackupStorage: 'idempotent-ok',
  AttachBackupStorageToZone: 'not-found',
  DetachBackupStorageFromZone: 'not-found',
  UpdateImage: 'not-found',
  ChangeImageState: 'not-found',
  DeleteImage: 'idempotent-ok',
  RecoverImage: 'not-found',
  ExpungeImage: 'not-found',
  CreateL2NoVlanNetwork: 'not-found',
  CreateL2VlanNetwork: 'not-found',
  CreateL2VxlanNetworkPool: 'not-found',
  CreateL2VxlanNetwork: 'not-found',
  CreateVniRange: 'not-found',
  DeleteVniRange: 'idempotent-ok',
  UpdateL2Network: 'not-found',
  DeleteL2Network: 'idempotent-ok',
  AttachL2NetworkToCluster: 'not-found',
  DetachL2NetworkFromCluster: 'not-found',
  CreateL3Network: 'not-found',
  UpdateL3Network: 'not-found',
  ChangeL3NetworkState: 'not-found',
  DeleteL3Network: 'idempotent-ok',
  AddIpRange: 'not-found',
  AddIpRangeByNetworkCidr: 'not-found',
  DeleteIpRange: 'idempotent-ok',
  AddDnsToL3Network: 'not-found',
  RemoveDnsFromL3Network: 'not-found',
  GetFreeIpOfL3Network: 'not-found',
  CheckIpAvailability: 'not-found',
  AttachNetworkServiceToL3Network: 'not-found',
  DetachNetworkServiceFromL3Network: 'not-found',
  UpdateSecurityGroup: 'not-found',
  ChangeSecurityGroupState: 'not-found',
  DeleteSecurityGroup: 'idempotent-ok',
  AddSecurityGroupRule: 'not-found',
  AttachSecurityGroupToL3Network: 'not-found',
  DetachSecurityGroupFromL3Network: 'not-found',
  AddVmNicToSecurityGroup: 'not-found',
  DeleteVmNicFromSecurityGroup: 'not-found',
  CreateVip: 'not-found',
  UpdateVip: 'not-found',
  ChangeVipState: 'not-found',
  DeleteVip: 'idempotent-ok',
  CreateEip: 'not-found',
  UpdateEip: 'not-found',
  ChangeEipState: 'not-found',
  DeleteEip: 'idempotent-ok',
  AttachEip: 'not-found',
  DetachEip: 'not-found',
  AddLocalPrimaryStorage: 'not-found',
  AddSimulatorPrimaryStorage: 'not-found',
  UpdatePrimaryStorage: 'not-found',
  ChangePrimaryStorageState: 'not-found',
  ReconnectPrimaryStorage: 'not-found',
  DeletePrimaryStorage: 'idempotent-ok',
  AttachPrimaryStorageToCluster: 'not-found',
  DetachPrimaryStorageFromCluster: 'not-found',
  CreateDataVolume: 'not-found',
  DeleteDataVolume: 'idempotent-ok',
  RecoverDataVolume: 'not-found',
  ExpungeDataVolume: 'not-found',
  UpdateVolume: 'not-found',
  ChangeVolumeState: 'not-found',
  ResizeDataVolume: 'not-found',
  ResizeRootVolume: 'not-found',
  CreateVmInstance: 'not-found',
  StartVmInstance: 'not-found',
  StopVmInstance: 'not-found',
  RebootVmInstance: 'not-found',
  PauseVmInstance: 'not-found',
  ResumeVmInstance: 'not-found',
  DestroyVmInstance: 'idempotent-ok',
  RecoverVmInstance: 'not-found',
  ExpungeVmInstance: 'not-found',
  UpdateVmInstance: 'not-found',
  MigrateVm: 'not-found',
  AttachDataVolumeToVm: 'not-found',
  DetachDataVolumeFromVm: 'not-found',
  GetVmAttachableDataVolume: 'not-found',
  AttachL3NetworkToVm: 'not-found',
  DetachL3NetworkFromVm: 'not-found',
  ChangeInstanceOffering: 'not-found',
  CreateVolumeSnapshot: 'not-found',
  UpdateVolumeSnapshot: 'not-found',
  DeleteVolumeSnapshot: 'idempotent-ok',
  RevertVolumeFromSnapshot: 'not-found',
  RequestConsoleAccess: 'not-found',
  SetNicQos: 'not-found',
  GetNicQos: 'not-found',
  DeleteNicQos: 'idempotent-ok',
};

const colourTags: ServiceModule = {
  id: 'test.bad-input-tags',
  setup(ctx) {
    ctx.systemTags.define({ pattern: 'colour::{colour}', resourceType: 'ZoneVO' });
  },
};

/** The storage services' tables: a refused request changes none of them either. */
const STORAGE_TABLES = ['primary_storage', 'primary_storage_cluster_ref', 'image_cache', 'volume', 'volume_snapshot', 'volume_snapshot_tree'];

/** The identity tables: a refused request changes none of them. */
const IDENTITY_TABLES = ['account_user', 'user_group', 'user_group_user_ref', 'policy', 'user_policy_ref', 'user_group_policy_ref', 'access_key'];

/** The network services' tables: a refused request changes none of them. */
const NETWORK_TABLES = ['l2_network', 'vni_range', 'l2_network_cluster_ref', 'l3_network', 'ip_range', 'used_ip', 'l3_network_dns', 'network_service_l3_ref', 'security_group', 'security_group_rule', 'security_group_l3_ref', 'vip', 'vip_network_services_ref', 'eip'];

const isQueryApi = (api: ApiDef) => api.query !== undefined;

describe.each(testDatabaseKinds())('bad input on every API of the catalog on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let f: Fixtures;
  const db = () => t.node.ctx.db;

  /** Everything a refused request must leave untouched. */
  async function snapshot() {
    return { rows: await countRows(db(), [...COUNTED_TABLES, 'session', 'account', ...IDENTITY_TABLES, ...NETWORK_TABLES, ...STORAGE_TABLES]), config: await configValues(db()), zone: await db().selectFrom('zone').selectAll().where('uuid', '=', f.zone).executeTakeFirst(), cluster: await db().selectFrom('cluster').selectAll().where('uuid', '=', f.cluster).executeTakeFirst(), systemTag: await db().selectFrom('system_tag').select(['tag']).where('uuid', '=', f.systemTag).executeTakeFirst() };
  }

  const send = (r: CatalogRequest) => c.send(r.method, r.path, r.body);

  function expectInvalid(r: RawResponse, mentions: string, what: string): void {
    expect(r.status, `${what}: ${r.text}`).toBe(503);
    expect(r.headers.get('content-type'), what).toMatch(/application\/json/);
    expect(r.body.error.code, `${what}: ${r.text}`).toBe(SysErrors.INVALID_ARGUMENT_ERROR.code);
    expect(r.body.error.details, what).toContain(mentions);
  }

  function expectTransportError(r: RawResponse, what: string): void {
    expect(r.status, `${what}: ${r.text}`).toBe(400);
    expect(r.headers.get('content-type'), what).toMatch(/^text\/plain/);
    expect(r.text.length, what).toBeGreaterThan(10);
  }

  beforeAll(async () => {
    t = await startTestNode(kind, { modules: [colourTags] });
    c = await t.login();
    const zone = await createZone(c, 'bad-input-zone');
    const cluster = await createCluster(c, zone.uuid, 'bad-input-cluster');
    const simulatorCluster = await createCluster(c, zone.uuid, 'bad-input-simulator-cluster', { hypervisorType: 'Simulator' });
    const host = await c.call('POST', '/hosts/simulators', { params: { name: 'bad-input-host', managementIp: '10.250.0.1', clusterUuid: simulatorCluster.uuid, cpuCapacity: 8, memoryCapacity: 8 * 1024 ** 3 } });
    const userTag = await c.call('POST', '/user-tags', { params: { resourceType: 'ZoneVO', resourceUuid: zone.uuid, tag: 'existing' } });
    const systemTag = await c.call('POST', '/system-tags', { params: { resourceType: 'ZoneVO', resourceUuid: zone.uuid, tag: 'colour::red' } });
    const other = await t.login();
    const instanceOffering = await c.call('POST', '/instance-offerings', { params: { name: 'bad-input-io', cpuNum: 1, memorySize: 1073741824 } });
    const diskOffering = await c.call('POST', '/disk-offerings', { params: { name: 'bad-input-do', diskSize: 1073741824 } });
    const l2 = await c.call('POST', '/l2-networks/no-vlan', { params: { name: 'bad-input-l2', zoneUuid: zone.uuid, physicalInterface: 'eth0' } });
    const pool = await c.call('POST', '/l2-networks/vxlan-pool', { params: { name: 'bad-input-pool', zoneUuid: zone.uuid } });
    const vniRange = await c.call('POST', `/l2-networks/vxlan-pool/${pool.inventory.uuid}/vni-ranges`, { params: { name: 'vr', startVni: 1, endVni: 100 } });
    const l3 = await c.call('POST', '/l3-networks', { params: { name: 'bad-input-l3', l2NetworkUuid: l2.inventory.uuid } });
    const ipRange = await c.call('POST', `/l3-networks/${l3.inventory.uuid}/ip-ranges`, { params: { name: 'r1', startIp: '10.99.0.10', endIp: '10.99.0.50', netmask: '255.255.255.0', gateway: '10.99.0.1' } });
    await c.call('POST', `/l3-networks/${l3.inventory.uuid}/dns`, { params: { dns: '8.8.4.4' } });
    const providers = await c.call('GET', `/network-services/providers?q=type=Flat`);
    const backupStorage = await c.call('POST', '/backup-storage/simulators', { params: { name: 'bad-input-bs', url: '/sim/bad-input' } });
    const securityGroup = await c.call('POST', '/security-groups', { params: { name: 'bad-input-sg' } });
    const securityGroupRule = await c.call('POST', `/security-groups/${securityGroup.inventory.uuid}/rules`, { params: { rules: [{ type: 'Egress', protocol: 'UDP', startPort: 53, endPort: 53 }] } });
    const publicL3 = await c.call('POST', '/l3-networks', { params: { name: 'bad-input-public-l3', l2NetworkUuid: l2.inventory.uuid, category: 'Public' } });
    const publicIpRange = await c.call('POST', `/l3-networks/${publicL3.inventory.uuid}/ip-ranges`, { params: { name: 'pub', startIp: '10.97.0.10', endIp: '10.97.0.50', netmask: '255.255.255.0', gateway: '10.97.0.1' } });
    const vip = await c.call('POST', '/vips', { params: { name: 'bad-input-vip', l3NetworkUuid: publicL3.inventory.uuid } });
    const freeVip = await c.call('POST', '/vips', { params: { name: 'bad-input-free-vip', l3NetworkUuid: publicL3.inventory.uuid } });
    const eip = await c.call('POST', '/eips', { params: { name: 'bad-input-eip', vipUuid: vip.inventory.uuid } });
    const image = await c.call('POST', '/images', { params: { name: 'bad-input-image', url: 'http://images.example/a.qcow2?size=1024', backupStorageUuids: [backupStorage.inventory.uuid] } });
    const primaryStorage = await c.call('POST', '/primary-storage/simulators', { params: { name: 'bad-input-ps', url: '/sim/bad-input-ps', zoneUuid: zone.uuid } });
    const volume = await c.call('POST', '/volumes/data', { params: { name: 'bad-input-volume', diskSize: 1073741824 } });
    await c.call('POST', `/l2-networks/${l2.inventory.uuid}/clusters/${simulatorCluster.uuid}`, { null: {} });
    await c.call('POST', `/zones/${zone.uuid}/backup-storage/${backupStorage.inventory.uuid}`, { params: {} });
    await c.call('POST', `/clusters/${simulatorCluster.uuid}/primary-storage/${primaryStorage.inventory.uuid}`, { params: {} });
    const vm = await c.call('POST', '/vm-instances', { params: { name: 'bad-input-vm', instanceOfferingUuid: instanceOffering.inventory.uuid, imageUuid: image.inventory.uuid, l3NetworkUuids: [l3.inventory.uuid] } });
    const account = await c.call('POST', '/accounts', { params: { name: 'bad-input-account', password: sha512('x') } });
    const user = await c.call('POST', '/accounts/users', { params: { name: 'bad-input-user', password: sha512('password') } });
    const userGroup = await c.call('POST', '/accounts/groups', { params: { name: 'bad-input-group' } });
    const policy = await c.call('POST', '/accounts/policies', { params: { name: 'bad-input-policy', statements: [{ effect: 'Allow', actions: ['*'] }] } });
    const accessKey = await c.call('POST', '/accesskeys', { params: { accountUuid: ADMIN_ACCOUNT_UUID, userUuid: ADMIN_ACCOUNT_UUID } });
    f = { account: account.inventory.uuid, user: user.inventory.uuid, userGroup: userGroup.inventory.uuid, policy: policy.inventory.uuid, accessKey: accessKey.inventory.uuid, vm: vm.inventory.uuid, vmNic: vm.inventory.vmNics[0].uuid, primaryStorage: primaryStorage.inventory.uuid, volume: volume.inventory.uuid, l2Network: l2.inventory.uuid, vxlanPool: pool.inventory.uuid, vniRange: vniRange.inventory.uuid, l3Network: l3.inventory.uuid, ipRange: ipRange.inventory.uuid, networkServiceProvider: providers.inventories[0].uuid, zone: zone.uuid, cluster: cluster.uuid, userTag: userTag.inventory.uuid, systemTag: systemTag.inventory.uuid, session: other.session, instanceOffering: instanceOffering.inventory.uuid, diskOffering: diskOffering.inventory.uuid, backupStorage: backupStorage.inventory.uuid, image: image.inventory.uuid, simulatorCluster: simulatorCluster.uuid, host: host.inventory.uuid, securityGroup: securityGroup.inventory.uuid, securityGroupRule: securityGroupRule.inventory.rules.find((r: any) => r.startPort === 53).uuid, publicL3Network: publicL3.inventory.uuid, publicIpRange: publicIpRange.inventory.uuid, vip: vip.inventory.uuid, freeVip: freeVip.inventory.uuid, eip: eip.inventory.uuid };
  });
  afterAll(async () => t?.stop());

  it('has a valid parameter set for every API in the catalog', () => {
    expect(apiCatalog.map((a) => a.name).filter((n) => !VALID[n])).toEqual([]);
  });

  it.each(apiCatalog.map((a) => [a.name, a] as const))('%s refuses every malformed request and changes nothing', async (_name, api) => {
    const before = await snapshot();
    const valid = VALID[api.name](f);
    const vars = pathVars(api);
    const inQuery = api.bodyKey === null;

    // Missing mandatory parameters (path variables are always present).
    for (const key of ((api.schema.required ?? []) as string[]).filter((k) => !vars.includes(k))) {
      const { [key]: _dropped, ...rest } = valid;
      expectInvalid(await send(toRequest(api, rest)), key, `${api.name} without ${key}`);
    }

    // An unknown field among the parameters.
    expectInvalid(await send(toRequest(api, { ...valid, bogusField: inQuery ? 'x' : 1 })), 'bogusField', `${api.name} with an unknown field`);

    // Each declared parameter given a value of the wrong type.
    for (const [key, schema] of Object.entries(api.schema.properties)) {
      if (vars.includes(key)) continue;
      const wrong = wrongTypeFor(schema, inQuery);
      if (wrong === undefined) continue;
      expectInvalid(await send(toRequest(api, { ...valid, [key]: wrong })), key, `${api.name} with ${key}=${JSON.stringify(wrong)}`);
    }

    // A path uuid that is not a uuid at all.
    for (const key of vars.filter((k) => (api.schema.properties[k] as any).pattern)) {
      expectInvalid(await send(toRequest(api, { ...valid, [key]: 'not-a-uuid' })), key, `${api.name} with ${key}=not-a-uuid`);
    }

    // A well-formed uuid naming nothing.
    for (const key of uuidParams(api)) {
      const r = await send(toRequest(api, { ...valid, [key]: newUuid() }));
      const expected = UNKNOWN_UUID[api.name];
      const what = `${api.name} with an unknown ${key}: ${r.text}`;
      if (expected === 'idempotent-ok') expect(r.status, what).toBe(200);
      else {
        expect(r.status, what).toBe(503);
        expect(r.body.error.code, what).toBe(expected === 'invalid-session' ? IdentityErrors.INVALID_SESSION.code : expected === 'login-refused' ? IdentityErrors.AUTHENTICATION_ERROR.code : SysErrors.RESOURCE_NOT_FOUND.code);
      }
    }

    if (!inQuery) {
      const { path } = toRequest(api, valid);
      // Malformed JSON, a body that is not an object, a missing wrapper key, an unknown top-level key: transport errors.
      expectTransportError(await c.raw(api.method, path, '{"params": {"name": '), `${api.name} with malformed JSON`);
      expectTransportError(await c.raw(api.method, path, '[1,2]'), `${api.name} with an array body`);
      expectTransportError(await c.raw(api.method, path, { wrongWrapper: {} }), `${api.name} without its body key`);
      expectTransportError(await send(toRequest(api, valid, { surprise: true })), `${api.name} with an unknown top-level key`);
    }

    if (isQueryApi(api)) {
      const qOf = (q: string) => `${api.path}?q=${encodeURIComponent(q)}`;
      expectInvalid(await c.raw('GET', qOf('noSuchField=1')), 'noSuchField', `${api.name} q= on an unknown field`);
      const firstField = api.query!.inventory === 'GlobalConfigInventory' ? 'name' : 'uuid';
      expectInvalid(await c.raw('GET', qOf(`${firstField}=~=x`)), '', `${api.name} q= with a bad operator`);
      expectInvalid(await c.raw('GET', qOf(firstField)), '', `${api.name} q= with no operator`);
      expectInvalid(await c.raw('GET', `${api.path}?sort=${encodeURIComponent('+noSuchField')}`), 'noSuchField', `${api.name} sorted by an unknown field`);
      expectInvalid(await c.raw('GET', `${api.path}?fields=noSuchField`), 'noSuchField', `${api.name} with an unknown field in fields`);
      expectInvalid(await c.raw('GET', `${api.path}?limit=-1`), 'limit', `${api.name} with a negative limit`);
    }

    expect(await snapshot()).toEqual(before);
  });

  it('refuses bad numbers and bad nested paths in q= with SYS.1007', async () => {
    const before = await snapshot();
    for (const q of ['createDate>yesterday', 'cluster.noSuchField=1', 'noSuchExpansion.name=x', 'name', '=x']) {
      expectInvalid(await c.raw('GET', `/zones?q=${encodeURIComponent(q)}`), '', `QueryZone q=${q}`);
    }
    expectInvalid(await c.raw('GET', `/global-configurations?q=${encodeURIComponent('id>abc')}`), '', 'QueryGlobalConfig id>abc');
    expect(await snapshot()).toEqual(before);
  });

  it('refuses ZQL with a syntax error, an unknown entity, an unknown field or trailing garbage', async () => {
    const before = await snapshot();
    const cases: Array<[string, string]> = [
      ['query zone where', ''],
      ["query zone where name = 'unterminated", ''],
      ['query spaceship', 'spaceship'],
      ['count nosuchthing', 'nosuchthing'],
      ['query zone where noSuchField = 1', 'noSuchField'],
      ['query zone limit ten', ''],
      ['delete zone', ''],
      ["query zone where name='a'; query", ''],
      ['query zone return with (everything)', 'everything'],
    ];
    for (const [zql, mention] of cases) expectInvalid(await c.raw('GET', `/zql?zql=${encodeURIComponent(zql)}`), mention, `ZQL ${zql}`);
    expect(await snapshot()).toEqual(before);
  });

  it('answers plain-text 400 for a malformed X-Job-UUID, X-API-Timeout or Authorization header and changes nothing', async () => {
    const before = await snapshot();
    const body = { params: { name: 'never-created' } };
    expectTransportError(await c.raw('POST', '/zones', body, { 'X-Job-UUID': 'not-hex' }), 'bad X-Job-UUID');
    expectTransportError(await c.raw('POST', '/zones', body, { 'X-API-Timeout': 'soon' }), 'bad X-API-Timeout');
    expectTransportError(await c.raw('POST', '/zones', body, { Authorization: 'Bearer x' }), 'bad Authorization');
    const noSession = await c.raw('POST', '/zones', body, { Authorization: `OAuth ${newUuid()}` });
    expect(noSession.status).toBe(503);
    expect(noSession.body.error.code).toBe(IdentityErrors.INVALID_SESSION.code);
    expect(await snapshot()).toEqual(before);
  });
});
