import { insertionPoint } from '../core/flow/index.ts';
import { observerPoint } from '../core/plugin/index.ts';

/**
 * VIPs and EIPs (ZStack's `plugin/vip`, `plugin/eip`). A VIP holds one address of a Public (or
 * System) L3 network, taken from the IPAM with usedFor=Vip; network services (Eip, PortForwarding,
 * LoadBalancer) acquire it through `VipMessages.acquire` and give it back with `VipMessages.release`.
 */

export interface VipView {
  uuid: string;
  name: string;
  l3NetworkUuid: string;
  ipRangeUuid: string;
  usedIpUuid: string;
  ip: string;
  gateway: string;
  netmask: string;
  state: 'Enabled' | 'Disabled';
  useFor: string | null;
  system: boolean;
}

/** ZStack's `usedFor` of a VIP's IP in the IPAM (`IpAllocatedReason.Vip`). */
export const VIP_IP_USED_FOR = 'Vip';

/** Network service types that use VIPs (ZStack's `EipConstant.EIP_NETWORK_SERVICE_TYPE`, …). */
export const VipServiceTypes = { eip: 'Eip', portForwarding: 'PortForwarding', loadBalancer: 'LoadBalancer' } as const;

/**
 * Body of `vip.Acquire` (send with `resourceUuid: vipUuid`): record that `serviceUuid` of `serviceType`
 * uses the VIP. Runs in the VIP's queue; an Eip needs the VIP to itself (a VIP used by anything else
 * is refused), and a VIP already used by an Eip accepts nothing more. Fails on a Disabled VIP.
 */
export interface AcquireVipRequest {
  vipUuid: string;
  serviceType: string;
  serviceUuid: string;
}

/** Body of `vip.Release`: the service no longer uses the VIP; releasing what is not held succeeds. */
export interface ReleaseVipRequest {
  vipUuid: string;
  serviceType: string;
  serviceUuid: string;
}

export const VipMessages = {
  acquire: 'vip.Acquire',
  release: 'vip.Release',
  /** Delete one VIP (cascade), in its queue: its users go first (their own cascade entries). */
  delete: 'vip.Delete',
} as const;

export const EipMessages = {
  /** Delete one EIP (cascade), in its queue; gives the VIP back. */
  delete: 'eip.Delete',
} as const;

export interface VipLifecycle {
  afterCreate?(vip: VipView): void | Promise<void>;
  afterDelete?(vip: VipView): void | Promise<void>;
}

export const VipLifecyclePoint = observerPoint<VipLifecycle>('vip.lifecycle');

/** The context of the `vip.create` chain. */
export interface CreateVipCtx {
  uuid: string;
  name: string;
  description?: string;
  l3NetworkUuid: string;
  requiredIp?: string;
  ipRangeUuid?: string;
  allocatorStrategy?: string;
  systemTags?: string[];
  userTags?: string[];
  /** Set by the allocation step: what its rollback releases. */
  usedIp?: { uuid: string; ip: string; ipRangeUuid: string; gateway: string; netmask: string };
  persisted?: boolean;
}

/** Plugin steps after the VIP row and its tags exist (a backend realizing the VIP), inside the create chain's rollback scope. */
export const AfterVipPersisted = insertionPoint<CreateVipCtx>('vip.create.afterPersisted');

export const VipErrors = {
  IN_USE: { code: 'VIP.1000', description: 'The VIP is used by another network service' },
} as const;
