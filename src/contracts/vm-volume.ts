import { insertionPoint } from '../core/flow/index.ts';

/**
 * Data volumes on VMs (ZStack's AttachDataVolumeToVm / DetachDataVolumeFromVm): the VM service runs the
 * `vm.attachDataVolume` chain in the VM's queue; hypervisor agents answer `VmVolumeAgentPaths`.
 */

/** The context of `vm.attachDataVolume` (journaled: JSON only). */
export interface AttachDataVolumeCtx {
  vmUuid: string;
  volumeUuid: string;
  /** The VM's state when the chain started: the agent is only asked while it is Running. */
  vmState: string;
  /** The VM's host (Running) or last host (Stopped): where the volume must be reachable from. */
  hostUuid: string | null;
  clusterUuid: string;
  /** Set before `volume.Instantiate` is sent for a NotInstantiated volume: rollback un-instantiates it. */
  instantiating?: boolean;
  /** The volume's format before it was instantiated (what un-instantiating puts back). */
  formerFormat?: string | null;
  /** The volume's bits once Ready. */
  installPath?: string;
  primaryStorageUuid?: string;
  format?: string;
  deviceId?: number;
  /** Set before `/vm/attachdatavolume` is sent: rollback detaches it on the host. */
  attachSent?: boolean;
  persisted?: boolean;
}

/** Plugins' steps inside `vm.attachDataVolume`, each in the chain's rollback scope. */
/** After the volume is Ready on a storage the VM reaches, before the host is asked to attach it. */
export const BeforeDataVolumeAttach = insertionPoint<AttachDataVolumeCtx>('vm.attachDataVolume.beforeAttach');
/** After the attachment is recorded (the volume's vmInstanceUuid and deviceId are set). */
export const AfterDataVolumeAttached = insertionPoint<AttachDataVolumeCtx>('vm.attachDataVolume.afterAttached');

/** Commands hypervisor agents answer for data volumes of running VMs: `{vmInstanceUuid, volume: {uuid, installPath, deviceId, format}}`. */
export const VmVolumeAgentPaths = {
  attach: '/vm/attachdatavolume',
  detach: '/vm/detachdatavolume',
} as const;

/** Internal messages of the VM service for data volumes; each routes by the VM's uuid and runs in its queue. */
export const VmVolumeMessages = {
  /** `{vmUuid, volumeUuid}`: detach a data volume (sent by DetachDataVolumeFromVm, routed by the volume, to the VM's owner). */
  detach: 'vm.DetachDataVolume',
} as const;
