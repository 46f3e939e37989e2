import { insertionPoint } from '../core/flow/index.ts';
import { observerPoint } from '../core/plugin/index.ts';

export interface ClusterInventoryView {
  uuid: string;
  zoneUuid: string;
  name: string;
  state: string;
  hypervisorType: string;
}

export interface ClusterLifecycle {
  afterCreate?(cluster: ClusterInventoryView): void | Promise<void>;
  preChangeState?(cluster: ClusterInventoryView, stateEvent: 'enable' | 'disable'): void | Promise<void>;
  afterChangeState?(cluster: ClusterInventoryView, previous: string): void | Promise<void>;
  preDelete?(cluster: ClusterInventoryView): void | Promise<void>;
  afterDelete?(cluster: ClusterInventoryView): void | Promise<void>;
}

export const ClusterLifecyclePoint = observerPoint<ClusterLifecycle>('cluster.lifecycle');

export interface CreateClusterCtx {
  uuid: string;
  zoneUuid: string;
  name: string;
  description?: string;
  hypervisorType: string;
  architecture?: string;
  systemTags?: string[];
  userTags?: string[];
  persisted?: boolean;
}

export const AfterClusterPersisted = insertionPoint<CreateClusterCtx>('cluster.create.afterPersisted');

/** Internal messages of the cluster service. */
export const ClusterMessages = {
  /** Delete one cluster (sent by the cascade, routed to the cluster's owner, run in its queue). */
  delete: 'cluster.Delete',
} as const;
