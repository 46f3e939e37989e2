import { AfterVmNicAttached, AfterVmNicIpAllocated, AfterVmNicPersisted, type AttachNicCtx } from '../../../contracts/vm-nic.ts';
import { defineChain, type FlowChain } from '../../../core/flow/index.ts';
import { attachNicAllocateIp } from './attach-nic-allocate-ip.ts';
import { attachNicOnHost } from './attach-nic-on-host.ts';
import { attachNicPersist } from './attach-nic-persist.ts';
import { followAttachNic } from '../network-follow.ts';
import type { VmFlowDeps } from './start-on-host.ts';

/**
 * `vm.attachNic` (ZStack's VmAttachNicFlow chain): IP from the IPAM → NIC row → hot-plug on the host
 * when Running. A failure at any step, inserted ones included, gives the IP back and removes the NIC.
 */
export function attachNicChain(deps: VmFlowDeps): FlowChain<AttachNicCtx> {
  return defineChain<AttachNicCtx>('vm.attachNic', [
    attachNicAllocateIp, AfterVmNicIpAllocated,
    attachNicPersist, AfterVmNicPersisted, followAttachNic(deps.extensions),
    attachNicOnHost(deps), AfterVmNicAttached,
  ]);
}
