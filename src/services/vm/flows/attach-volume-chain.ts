import { AfterDataVolumeAttached, BeforeDataVolumeAttach, type AttachDataVolumeCtx } from '../../../contracts/vm-volume.ts';
import { defineChain, type FlowChain } from '../../../core/flow/index.ts';
import { attachVolumeDeviceId } from './attach-volume-device-id.ts';
import { attachVolumeInstantiate } from './attach-volume-instantiate.ts';
import { attachVolumeOnHost } from './attach-volume-on-host.ts';
import { attachVolumePersist } from './attach-volume-persist.ts';
import type { VmFlowDeps } from './start-on-host.ts';

/**
 * `vm.attachDataVolume`: the volume Ready on a storage the VM reaches → a device id → the host plugs it
 * in (Running VMs) → recorded; a failure anywhere leaves capacity, the volume and the VM as they were.
 */
export function attachVolumeChain(deps: VmFlowDeps): FlowChain<AttachDataVolumeCtx> {
  return defineChain<AttachDataVolumeCtx>('vm.attachDataVolume', [
    attachVolumeInstantiate, BeforeDataVolumeAttach, attachVolumeDeviceId, attachVolumeOnHost(deps), attachVolumePersist, AfterDataVolumeAttached,
  ]);
}
