import type { AgentEndpoint, AgentResponse } from '../core/agent/index.ts';
import { insertionPoint } from '../core/flow/index.ts';
import { observerPoint, strategyPoint } from '../core/plugin/index.ts';

/** A host as other services and plugins see it (a subset of HostInventory). */
export interface HostInventoryView {
  uuid: string;
  zoneUuid: string;
  clusterUuid: string;
  name: string;
  managementIp: string;
  hypervisorType: string;
  state: HostState;
  status: HostStatus;
}

export type HostState = 'Enabled' | 'Disabled' | 'PreMaintenance' | 'Maintenance';
export type HostStatus = 'Connecting' | 'Connected' | 'Disconnected';

/** What a hypervisor factory is told about a host: enough to reach and deploy its agent. */
export interface HostSpec {
  uuid: string;
  name: string;
  managementIp: string;
  clusterUuid: string;
  zoneUuid: string;
  hypervisorType: string;
  /** The per-host token the agent requires on every command (issued when the host is added). */
  agentToken: string;
}

/**
 * The hypervisor behind a host (ZStack's HypervisorFactory), chosen by `hypervisorType`: the simulator
 * plugin implements 'Simulator'; a KVM plugin will implement 'KVM'. With no implementation for a type,
 * adding or connecting such a host fails with SYS.1013.
 */
export interface HypervisorFactory {
  /**
   * Make the agent ready (ZStack: the Ansible deployment). `params` are the hypervisor-specific API
   * parameters on a first add (`newAdded`), undefined on a reconnect. Must be idempotent.
   */
  deploy(host: HostSpec, opts: { newAdded: boolean; params?: Record<string, unknown> }): Promise<void>;
  /** Where the host's agent listens. */
  endpointOf(host: HostSpec): AgentEndpoint | Promise<AgentEndpoint>;
  /** Forget what `deploy` created (the host is deleted or its add rolled back). Idempotent. */
  cleanup(hostUuid: string): Promise<void>;
}

export const HypervisorFactoryPoint = strategyPoint<HypervisorFactory>('host.hypervisorFactory');

/** Observers of a host's life. `pre*` hooks veto by throwing. */
export interface HostLifecycle {
  afterAdd?(host: HostInventoryView): void | Promise<void>;
  preChangeState?(host: HostInventoryView, stateEvent: HostStateEvent): void | Promise<void>;
  /**
   * The host is in PreMaintenance: move its workloads away (the VM service will migrate or stop VMs
   * here). Throwing puts the host back in its previous state and fails ChangeHostState.
   */
  enteringMaintenance?(host: HostInventoryView): void | Promise<void>;
  afterChangeState?(host: HostInventoryView, previous: HostState): void | Promise<void>;
  afterStatusChange?(host: HostInventoryView, previous: HostStatus): void | Promise<void>;
  preDelete?(host: HostInventoryView): void | Promise<void>;
  afterDelete?(host: HostInventoryView): void | Promise<void>;
}

export type HostStateEvent = 'enable' | 'disable' | 'maintain';

export const HostLifecyclePoint = observerPoint<HostLifecycle>('host.lifecycle');

/** The context of the `host.connect` chain (also the tail of `host.add`). */
export interface ConnectHostCtx {
  uuid: string;
  newAdded: boolean;
  /** Hypervisor-specific parameters of the add API (AddSimulatorHost's capacities, AddKVMHost's ssh login). */
  hypervisorParams?: Record<string, unknown>;
  /** What the agent answered to `/host/connect` (its host facts, e.g. `vlanSupported`), for the steps after it. */
  facts?: Record<string, unknown>;
}

/** The context of the `host.add` chain. */
export interface AddHostCtx extends ConnectHostCtx {
  name: string;
  description?: string;
  managementIp: string;
  clusterUuid: string;
  hypervisorType: string;
  systemTags?: string[];
  userTags?: string[];
  /** Taken from the cluster by the first step. */
  zoneUuid?: string;
  architecture?: string | null;
  /** Set once the row exists. */
  persisted?: boolean;
}

/** Plugins add steps once the agent answered and the capacity is known (ZStack's HostConnectExtensionPoint). */
export const AfterHostConnected = insertionPoint<ConnectHostCtx>('host.connect.afterConnected');

/** Internal messages of the host service. */
export const HostMessages = {
  /** Delete one host (sent by the cascade, routed to the host's owner, run in its queue). */
  delete: 'host.Delete',
  /** Reconnect one host (sent by the ping tracker). */
  reconnect: 'host.Reconnect',
  /**
   * Reserve CPU and memory on a host: `{hostUuid, cpuNum, memorySize}`; fails with HOST.1001 when the
   * host lacks either. Memory is counted through the memory over-provisioning ratio.
   */
  reserveCapacity: 'host.ReserveCapacity',
  /** Give back what `reserveCapacity` took: `{hostUuid, cpuNum, memorySize}`. */
  releaseCapacity: 'host.ReleaseCapacity',
} as const;

export interface CapacityRequest {
  hostUuid: string;
  cpuNum: number;
  memorySize: number;
}

export const HostEvents = {
  /** `{hostUuid, previous, status}` whenever a host's connection status changes. */
  statusChanged: 'host.statusChanged',
} as const;

export const HostErrors = {
  INSUFFICIENT_CAPACITY: { code: 'HOST.1001', description: 'The host has not enough capacity' },
  NOT_CONNECTED: { code: 'HOST.1002', description: 'The host is not connected' },
  INVALID_STATE_TRANSITION: { code: 'HOST.1003', description: 'The host cannot change to that state' },
} as const;

/** Agent paths every host agent answers (reference §9.4). */
export const HostAgentPaths = {
  connect: '/host/connect',
  echo: '/host/echo',
  ping: '/host/ping',
  capacity: '/host/capacity',
} as const;

export interface HostCapacityResponse extends AgentResponse {
  cpuNum: number;
  cpuSockets: number;
  totalMemory: number;
  usedMemory?: number;
}
