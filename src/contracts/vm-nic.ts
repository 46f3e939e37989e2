import { insertionPoint } from '../core/flow/index.ts';
import { observerPoint } from '../core/plugin/index.ts';

/**
 * VM NICs after creation (ZStack's AttachL3NetworkToVm / DetachL3NetworkFromVm): the VM service owns
 * `vm_nic`; attaching runs the `vm.attachNic` chain, detaching tells the NIC observers first (security
 * groups, EIPs) and gives the IP back.
 */

/** The context of the `vm.attachNic` chain (journaled: JSON only). */
export interface AttachNicCtx {
  vmUuid: string;
  l3NetworkUuid: string;
  staticIp?: string;
  /** Chosen before the chain runs, so every rollback can find the NIC. */
  nicUuid: string;
  deviceId: number;
  /** The host to hot-plug on: set when the VM is Running. */
  hostUuid?: string;
  /** Set once `l3.AllocateIp` answered: what rollback releases. */
  usedIpUuid?: string;
  ip?: string;
  mac?: string;
  persisted?: boolean;
  /** Set once `/vm/attachnic` was sent: rollback detaches it again. */
  attachSent?: boolean;
  /** The VM had no default L3 network: this one became it (rollback clears it). */
  becameDefault?: boolean;
}

/** Plugins' steps inside `vm.attachNic`, each in the chain's rollback scope. */
export const AfterVmNicIpAllocated = insertionPoint<AttachNicCtx>('vm.attachNic.afterIpAllocated');
export const AfterVmNicPersisted = insertionPoint<AttachNicCtx>('vm.attachNic.afterPersisted');
export const AfterVmNicAttached = insertionPoint<AttachNicCtx>('vm.attachNic.afterAttached');

export interface VmNicRef {
  uuid: string;
  vmInstanceUuid: string;
  l3NetworkUuid: string;
  ip: string | null;
}

/**
 * Observers of NICs going away (ZStack's VmDetachNicExtensionPoint / the NIC part of expunge): a
 * network service lets go of the NICs (EIPs detach, security groups drop them). Errors are logged.
 */
export interface VmNicLifecycle {
  beforeNicsDeleted?(nics: readonly VmNicRef[]): void | Promise<void>;
}

export const VmNicLifecyclePoint = observerPoint<VmNicLifecycle>('vm.nic.lifecycle');

/** Internal messages of the VM service about NICs; each routes by the VM's uuid and runs in its queue. */
export const VmNicMessages = {
  /** `{vmNicUuid, cascade?}`: detach one NIC (the API, or its L3 network going). Detaching a NIC that is gone succeeds. */
  detachNic: 'vm.DetachNic',
} as const;

/** Hot-plug commands of hypervisor agents. */
export const VmNicAgentPaths = {
  attachNic: '/vm/attachnic',
  detachNic: '/vm/detachnic',
} as const;
