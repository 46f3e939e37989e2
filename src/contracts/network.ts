import { insertionPoint } from '../core/flow/index.ts';
import { observerPoint, strategyPoint } from '../core/plugin/index.ts';

/**
 * What the network services (l2-network, l3-network, network-service) publish for others: ZStack's
 * `header/network`. Everything here is data or a typed token; no service imports another's folder.
 */

/** ZStack's L2 types (`L2NetworkConstant`, `VxlanNetworkConstant`, `VxlanNetworkPoolConstant`). */
export const L2NetworkTypes = {
  noVlan: 'L2NoVlanNetwork',
  vlan: 'L2VlanNetwork',
  vxlan: 'VxlanNetwork',
  vxlanPool: 'VxlanNetworkPool',
} as const;

export interface L2NetworkView {
  uuid: string;
  name: string;
  zoneUuid: string;
  physicalInterface: string | null;
  type: string;
  vSwitchType: string;
  /** The VLAN id (L2VlanNetwork) or the VNI (VxlanNetwork). */
  virtualNetworkId: number | null;
  poolUuid: string | null;
}

/**
 * The backend of one L2 type (ZStack's L2NetworkFactory + L2NetworkRealizationExtensionPoint).
 * The control plane validates and persists; a backend realizes the network on the hosts of a
 * cluster (a Linux bridge, a VLAN device, a VXLAN VTEP). A hook that throws refuses the operation.
 *
 * @example
 *   ctx.extensions.registerStrategy(L2NetworkTypePoint, 'L2VlanNetwork', {
 *     async attachToCluster(l2, clusterUuid) { await realizeVlanBridgeOnHostsOf(clusterUuid, l2.virtualNetworkId) },
 *   });
 */
export interface L2NetworkTypeBackend {
  /** Extra validation before the row exists (the service already checked the shape of the parameters). */
  validateCreate?(l2: L2NetworkView): void | Promise<void>;
  /** Called before the cluster ref is written; `systemTags` are those given to the attach API. */
  attachToCluster?(l2: L2NetworkView, clusterUuid: string, systemTags: readonly string[]): void | Promise<void>;
  /** Called after the cluster ref is gone (detach, cluster deletion, L2 deletion); errors are logged, not fatal. */
  detachFromCluster?(l2: L2NetworkView, clusterUuid: string): void | Promise<void>;
}

export const L2NetworkTypePoint = strategyPoint<L2NetworkTypeBackend>('network.l2.type');

export interface L2NetworkLifecycle {
  afterCreate?(l2: L2NetworkView): void | Promise<void>;
  preDelete?(l2: L2NetworkView): void | Promise<void>;
  afterDelete?(l2: L2NetworkView): void | Promise<void>;
  afterAttachCluster?(l2: L2NetworkView, clusterUuid: string): void | Promise<void>;
  afterDetachCluster?(l2: L2NetworkView, clusterUuid: string): void | Promise<void>;
}

export const L2NetworkLifecyclePoint = observerPoint<L2NetworkLifecycle>('network.l2.lifecycle');

export interface CreateL2NetworkCtx {
  uuid: string;
  name: string;
  description?: string;
  zoneUuid: string;
  physicalInterface: string | null;
  type: string;
  vSwitchType: string;
  virtualNetworkId: number | null;
  poolUuid: string | null;
  systemTags?: string[];
  userTags?: string[];
  persisted?: boolean;
}

/** Plugin steps after the L2 row and its tags exist, inside the create chain's rollback scope. */
export const AfterL2NetworkPersisted = insertionPoint<CreateL2NetworkCtx>('l2.create.afterPersisted');

export const L2NetworkMessages = {
  /** Delete one L2 network (cascade), in its queue on its owner node. */
  delete: 'l2.Delete',
} as const;

/** System tag given to `AttachL2NetworkToCluster` for a VXLAN pool: the VTEP CIDR of that cluster. */
export const VXLAN_POOL_CLUSTER_CIDR_TAG = 'l2NetworkUuid::{l2NetworkUuid}::clusterUuid::{clusterUuid}::cidr::{cidr}';

export interface L3NetworkView {
  uuid: string;
  name: string;
  type: string;
  zoneUuid: string;
  l2NetworkUuid: string;
  state: string;
  category: string;
  system: boolean;
}

export interface L3NetworkLifecycle {
  afterCreate?(l3: L3NetworkView): void | Promise<void>;
  preDelete?(l3: L3NetworkView): void | Promise<void>;
  afterDelete?(l3: L3NetworkView): void | Promise<void>;
}

export const L3NetworkLifecyclePoint = observerPoint<L3NetworkLifecycle>('network.l3.lifecycle');

export interface CreateL3NetworkCtx {
  uuid: string;
  name: string;
  description?: string;
  type: string;
  l2NetworkUuid: string;
  zoneUuid?: string;
  category: string;
  system: boolean;
  dnsDomain?: string;
  systemTags?: string[];
  userTags?: string[];
  persisted?: boolean;
}

export const AfterL3NetworkPersisted = insertionPoint<CreateL3NetworkCtx>('l3.create.afterPersisted');

/** ZStack's `IpAllocatorType`: RandomIpAllocatorStrategy and FirstAvailableIpAllocatorStrategy. */
export type IpAllocatorStrategy = 'RandomIpAllocatorStrategy' | 'FirstAvailableIpAllocatorStrategy';

/** Body of `l3.AllocateIp` (send it with `resourceUuid: l3NetworkUuid`). */
export interface AllocateIpRequest {
  l3NetworkUuid: string;
  /** A static IP; refused when it is outside every range or already used. */
  requiredIp?: string;
  /** Only from this range. */
  ipRangeUuid?: string;
  allocatorStrategy?: IpAllocatorStrategy;
  usedFor?: string;
  vmNicUuid?: string;
  metaData?: string;
}

/** ZStack's UsedIpInventory: the reply of `l3.AllocateIp`. */
export interface UsedIpView {
  uuid: string;
  ipRangeUuid: string;
  l3NetworkUuid: string;
  ipVersion: number;
  ip: string;
  ipInLong: number;
  netmask: string;
  gateway: string;
  usedFor: string | null;
  vmNicUuid: string | null;
}

/** Body of `l3.ReleaseIp`: by used-ip uuid, or by (l3NetworkUuid, ip). Releasing what is not used succeeds. */
export interface ReleaseIpRequest {
  usedIpUuid?: string;
  l3NetworkUuid?: string;
  ip?: string;
}

export const L3NetworkMessages = {
  allocateIp: 'l3.AllocateIp',
  releaseIp: 'l3.ReleaseIp',
  /** Delete one L3 network (cascade), in its queue on its owner node. */
  delete: 'l3.Delete',
} as const;

/** ZStack's network service types (`NetworkServiceType`, plugin types). */
export const NetworkServiceTypes = ['DHCP', 'DNS', 'SNAT', 'PortForwarding', 'Eip', 'LoadBalancer', 'IPsec', 'Userdata', 'SecurityGroup', 'VipQos', 'HostRoute'] as const;

/**
 * The backend of one network service provider type (ZStack's NetworkServiceProviderFactory and
 * apply/release extension points). The Flat provider's control plane only records the attachment.
 */
export interface NetworkServiceProviderBackend {
  /** The service types this provider offers; written to the provider row's service list at start-up. */
  readonly serviceTypes: readonly string[];
  /** Before the refs are written: throw to refuse. */
  attachToL3?(l3NetworkUuid: string, serviceTypes: readonly string[]): void | Promise<void>;
  detachFromL3?(l3NetworkUuid: string, serviceTypes: readonly string[]): void | Promise<void>;
}

export const NetworkServiceProviderTypePoint = strategyPoint<NetworkServiceProviderBackend>('network.service.providerType');

/** ZStack's L3Errors: an allocation that found no address (or not the requested one). */
export const L3Errors = {
  ALLOCATE_IP_ERROR: { code: 'L3.1000', description: 'Failed to allocate an IP address' },
} as const;
