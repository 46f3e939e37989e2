import type { AllocateHostReply } from './host-allocator.ts';
import type { AllocateSpaceReply } from './primary-storage.ts';
import { insertionPoint } from '../core/flow/index.ts';
import { observerPoint, strategyPoint } from '../core/plugin/index.ts';

/**
 * VM instances (ZStack's `header/vm`): the VM service owns `vm_instance` and `vm_nic`; hosts run VMs
 * through their agents (`VmAgentPaths`), and report state changes back on the agent→node path.
 */

/** ZStack's VmInstanceState (the ones Strato's lifecycle reaches). */
export type VmState =
  | 'Created' | 'Starting' | 'Running' | 'Stopping' | 'Stopped' | 'Rebooting' | 'Pausing' | 'Paused' | 'Resuming'
  | 'Migrating' | 'Destroying' | 'Destroyed' | 'Expunging' | 'Unknown' | 'Crashed';

export interface VmInstanceView {
  uuid: string;
  name: string;
  description?: string | null;
  zoneUuid: string | null;
  clusterUuid: string | null;
  /** Set while the VM holds capacity on a host (Running, Paused…); null once Stopped. */
  hostUuid: string | null;
  lastHostUuid: string | null;
  imageUuid: string | null;
  instanceOfferingUuid: string | null;
  rootVolumeUuid: string | null;
  defaultL3NetworkUuid: string | null;
  type: string;
  hypervisorType: string | null;
  memorySize: number;
  cpuNum: number;
  cpuSpeed: number;
  allocatorStrategy: string | null;
  platform: string | null;
  architecture: string | null;
  guestOsType: string | null;
  state: VmState;
}

export interface VmNicView {
  uuid: string;
  vmInstanceUuid: string;
  l3NetworkUuid: string;
  ip: string | null;
  mac: string;
  netmask: string | null;
  gateway: string | null;
  deviceId: number;
  type: string;
  internalName: string;
}

/** One NIC the create chain makes: chosen before the step runs so its rollback can always find it. */
export interface PlannedNic {
  uuid: string;
  l3NetworkUuid: string;
  deviceId: number;
  staticIp?: string;
  /** Set once `l3.AllocateIp` answered: what rollback releases. */
  usedIpUuid?: string;
  ip?: string;
  mac?: string;
}

/** One volume the create chain makes (root or data); rollback deletes its bits, its space and its row. */
export interface PlannedVolume {
  uuid: string;
  size: number;
  diskOfferingUuid?: string;
  deviceId: number;
  allocated?: AllocateSpaceReply;
  installPath?: string;
}

/** The context of the `vm.create` chain (journaled: JSON only). */
export interface CreateVmCtx {
  uuid: string;
  name: string;
  description?: string;
  imageUuid: string;
  instanceOfferingUuid?: string;
  cpuNum: number;
  memorySize: number;
  cpuSpeed: number;
  allocatorStrategy?: string;
  zoneUuid: string;
  clusterUuid?: string;
  hostUuid?: string;
  primaryStorageUuidForRootVolume?: string;
  l3NetworkUuids: string[];
  defaultL3NetworkUuid: string;
  dataDiskOfferingUuids: string[];
  strategy: 'InstantStart' | 'CreateStopped';
  platform: string | null;
  architecture: string | null;
  guestOsType: string | null;
  systemTags?: string[];
  userTags?: string[];
  persisted?: boolean;
  /** Set by allocate-host: the capacity reserved there (released by its rollback, or at the end for CreateStopped). */
  host?: AllocateHostReply;
  hostReleased?: boolean;
  backupStorageUuid?: string;
  rootVolume: PlannedVolume;
  dataVolumes: PlannedVolume[];
  nics: PlannedNic[];
  /** Set once `/vm/start` was sent: rollback destroys the VM on the host. */
  startSent?: boolean;
}

/** Plugins' steps inside `vm.create`, each in the chain's rollback scope. */
export const AfterVmPersisted = insertionPoint<CreateVmCtx>('vm.create.afterPersisted');
export const AfterVmHostAllocated = insertionPoint<CreateVmCtx>('vm.create.afterHostAllocated');
export const AfterVmVolumesAllocated = insertionPoint<CreateVmCtx>('vm.create.afterVolumesAllocated');
/** After NICs and IPs, before the VM is started on its host (ZStack's pre-instantiate extensions: DHCP, security groups…). */
export const BeforeVmInstantiate = insertionPoint<CreateVmCtx>('vm.create.beforeInstantiate');
export const AfterVmInstantiated = insertionPoint<CreateVmCtx>('vm.create.afterInstantiated');

/** What steps inserted in `vm.start` (a stopped VM started again) may read of its context. */
export interface StartVmStepCtx {
  uuid: string;
  /** The capacity reserved for the VM (set from `vm.start.afterHostAllocated` on). */
  host?: AllocateHostReply;
}

/** Plugins' steps inside `vm.start`, each in the chain's rollback scope. */
export const AfterVmStartHostAllocated = insertionPoint<StartVmStepCtx>('vm.start.afterHostAllocated');
/** After `/vm/start` answered, before the host is recorded: a failure here destroys the VM on the host and gives the capacity back. */
export const AfterVmStartedOnHost = insertionPoint<StartVmStepCtx>('vm.start.afterStartedOnHost');

/** What steps inserted in `vm.migrate` may read of its context. */
export interface MigrateVmStepCtx {
  uuid: string;
  sourceHostUuid: string;
  /** The capacity reserved on the target (set from `vm.migrate.afterTargetAllocated` on). */
  target?: AllocateHostReply;
}

/** Plugins' steps inside `vm.migrate`, each in the chain's rollback scope. */
export const AfterVmMigrateTargetAllocated = insertionPoint<MigrateVmStepCtx>('vm.migrate.afterTargetAllocated');
/** After the source's agent moved the VM, before it is recorded on the target: a failure here moves it back. */
export const AfterVmMigratedOnHost = insertionPoint<MigrateVmStepCtx>('vm.migrate.afterMigratedOnHost');

/** Observers of a VM's life (ZStack's VmInstance*ExtensionPoint). `pre*` hooks veto by throwing. */
export interface VmLifecycle {
  afterCreate?(vm: VmInstanceView): void | Promise<void>;
  /** Every persisted state change, with the state before. */
  afterStateChange?(vm: VmInstanceView, previous: VmState): void | Promise<void>;
  preDestroy?(vm: VmInstanceView): void | Promise<void>;
  afterDestroy?(vm: VmInstanceView): void | Promise<void>;
  afterExpunge?(vm: VmInstanceView): void | Promise<void>;
}

export const VmLifecyclePoint = observerPoint<VmLifecycle>('vm.lifecycle');

export const VmEvents = {
  /** `{vmUuid, previous, state, hostUuid}` on every state change. */
  stateChanged: 'vm.stateChanged',
} as const;

export const VM_SERVICE = 'vm';

/** Internal messages of the VM service; each routes by the VM's uuid and runs in its queue. */
export const VmMessages = {
  /** `{hostUuid, vmUuid, vmState}`: what a host reported; the VM's record is reconciled with it. */
  reportState: 'vm.ReportState',
  /** `{uuid, mode: 'stop' | 'expunge', force}`: sent by the cascade when the VM's host (or zone) goes. */
  cascade: 'vm.Cascade',
} as const;

/** Commands every hypervisor agent answers for VMs. */
export const VmAgentPaths = {
  start: '/vm/start',
  stop: '/vm/stop',
  reboot: '/vm/reboot',
  pause: '/vm/pause',
  resume: '/vm/resume',
  destroy: '/vm/destroy',
  migrate: '/vm/migrate',
  /**
   * Synchronous, on a migration's destination: drop a VM still arriving there (its `-incoming` QEMU and
   * the disk files made for it); a VM that arrived is left alone. `checkState` lists arriving VMs.
   */
  migrateAbort: '/vm/migrate/abort',
  checkState: '/vm/checkstate',
  vmSync: '/vm/vmsync',
} as const;

/** ZStack's VmErrors (those Strato raises). */
export const VmErrors = {
  CREATE_ERROR: { code: 'VM.1000', description: 'Failed to create the VM' },
  START_ERROR: { code: 'VM.1001', description: 'Failed to start the VM' },
  STOP_ERROR: { code: 'VM.1002', description: 'Failed to stop the VM' },
  NOT_IN_CORRECT_STATE: { code: 'VM.1010', description: 'The VM is not in a state that allows the operation' },
} as const;

/**
 * The node's agent→node command path (`POST /zstack/asyncrest/sendcommand`, header `commandpath`),
 * ZStack's RESTFacade "sendcommand": an agent reporting something unprompted (`/kvm/reportvmstate`).
 * A service registers the handler of each command path it serves under that path.
 *
 * @example
 *   ctx.extensions.registerStrategy(AgentCommandPoint, '/kvm/reportvmstate', { handle: (body) => reconcile(body) });
 */
export interface AgentCommandHandler {
  handle(body: Record<string, unknown>): Promise<Record<string, unknown> | void>;
}

export const AgentCommandPoint = strategyPoint<AgentCommandHandler>('agent.sendCommand');
export const AGENT_SEND_COMMAND_PATH = '/zstack/asyncrest/sendcommand';
export const REPORT_VM_STATE_PATH = '/kvm/reportvmstate';

/**
 * What plugins add to the VM commands a host's agent receives (ZStack's KVM backends filling
 * NicTO.bridgeName): the KVM plugin gives each NIC of `/vm/start` and `/vm/attachnic` its NoVlan/VLAN
 * interface and bridge, a VXLAN plugin the `br_vx_<vni>` bridge. Several decorators chain: each gets
 * the command the previous one returned, in registration `order` (lower first); `hypervisorTypes`
 * limits one to hosts of those types (all types when absent). Returns the command to send.
 *
 * @example
 *   ctx.extensions.registerObserver(VmCommandDecoratorPoint, { hypervisorTypes: ['KVM'], decorate: async (path, cmd) => cmd }, { order: 10, by: 'kvm' });
 */
export interface VmCommandDecorator {
  readonly hypervisorTypes?: readonly string[];
  decorate(path: string, cmd: Record<string, unknown>, hostUuid: string): Promise<Record<string, unknown>>;
}

export const VmCommandDecoratorPoint = observerPoint<VmCommandDecorator>('vm.commandDecorator');

/** A VM's NICs on one host: what network plugins follow (bridges, VTEP peers, DHCP leases, firewall rules). */
export interface VmNicsOnHost {
  vm: VmInstanceView;
  hostUuid: string;
  /** The NICs concerned: all the VM's, or the one attached/detached. */
  nics: VmNicView[];
}

/**
 * How network plugins follow VMs from host to host (ZStack's VmInstanceStartNewCreatedVmExtensionPoint,
 * PreVmInstantiateResourceExtensionPoint, VmReleaseResourceExtensionPoint and HostConnectExtensionPoint
 * rolled into one). The VM service calls every registered follower, in `order` (`nicsLeftHost` in reverse):
 *
 * - `beforeNicsOnHost`: the NICs are about to be on the host: before `/vm/start` (create, start), before
 *   `/vm/migrate` (on the target) and before `/vm/attachnic` (a running VM). It runs as a step of those
 *   chains: throwing fails the operation, whose rollback then calls `nicsLeftHost` with the same NICs
 *   (also when a node died mid-way). Must be idempotent. Also called, after the fact (errors logged), for
 *   a VM a host reports running that the node had recorded stopped.
 * - `nicsLeftHost`: the NICs are no longer on the host: stop, destroy, a host's VMs stopped by a cascade,
 *   migration (the source, once the VM is recorded on the target), detach (the NIC row is already
 *   gone), or the rollback above. The node's records no longer count these NICs on that host, except
 *   during a rollback: a follower computing what else still uses the host must leave `nics` out.
 *   Errors are logged, never fatal.
 * - `hostConnected`: the host's agent (re)connected (add, reconnect, agent restart): re-send everything
 *   the host must hold for the VMs the node has there (`vms`, possibly empty) and for its cluster.
 *   Called as a step before the host is marked Connected (send with the plugin's own agent client:
 *   the host is still Connecting); throwing fails the connect. `vms` was read before the call: a VM
 *   can leave the host meanwhile (its QEMU died right after an agent restart) and its `nicsLeftHost` is
 *   then queued already, so what is sent from the follower's host queue must be worked out from
 *   `stillOnHost(vms)` there, or it re-makes what that VM's departure removed.
 */
/** Those of `vms` the node still records on the host when called (read afresh). */
export type StillOnHost = (vms: readonly VmNicsOnHost[]) => Promise<VmNicsOnHost[]>;

export interface VmNetworkFollower {
  beforeNicsOnHost?(p: VmNicsOnHost): Promise<void>;
  nicsLeftHost?(p: VmNicsOnHost): Promise<void>;
  hostConnected?(hostUuid: string, vms: readonly VmNicsOnHost[], stillOnHost: StillOnHost): Promise<void>;
  /**
   * Right after every follower's `hostConnected`, in reverse order (DHCP before the bridges it sits on):
   * remove what the host holds beyond the node's view (stale namespaces, unused VNIs). Errors are logged.
   */
  pruneHost?(hostUuid: string, vms: readonly VmNicsOnHost[]): Promise<void>;
}

export const VmNetworkFollowerPoint = observerPoint<VmNetworkFollower>('vm.networkFollower');
