import { AfterClusterPersisted, type CreateClusterCtx } from '../../../contracts/cluster.ts';
import { defineChain } from '../../../core/flow/index.ts';
import { createTagsStep } from '../../../core/tag/index.ts';
import { checkZone } from './check-zone.ts';
import { persistCluster } from './persist-cluster.ts';

/** `cluster.create`: check the zone, insert the row, attach tags, then plugin steps. */
export const createClusterChain = defineChain<CreateClusterCtx>('cluster.create', [checkZone, persistCluster, createTagsStep<CreateClusterCtx>('ClusterVO'), AfterClusterPersisted]);
