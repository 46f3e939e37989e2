import { AfterHostConnected, type AddHostCtx, type ConnectHostCtx } from '../../../contracts/host.ts';
import { defineChain, type FlowChain } from '../../../core/flow/index.ts';
import { createTagsStep } from '../../../core/tag/index.ts';
import type { HostFlowDeps } from '../host-agent.ts';
import { checkCluster } from './check-cluster.ts';
import { connectAgent } from './connect-agent.ts';
import { deployAgent } from './deploy-agent.ts';
import { echoAgent } from './echo-agent.ts';
import { fetchCapacity } from './fetch-capacity.ts';
import { markConnected } from './mark-connected.ts';
import { persistHost } from './persist-host.ts';

/**
 * `host.connect` (ZStack's connect chain, also run by ReconnectHost and the ping tracker): deploy,
 * echo, connect, capacity, plugins' steps, Connected. `host.add` runs it after the row and tags exist,
 * so a failure anywhere rolls the whole add back.
 */
export function hostChains(deps: HostFlowDeps): { connect: FlowChain<ConnectHostCtx>; add: FlowChain<AddHostCtx> } {
  const connect = defineChain<ConnectHostCtx>('host.connect', [deployAgent(deps), echoAgent(deps), connectAgent(deps), fetchCapacity(deps), AfterHostConnected, markConnected]);
  const add = defineChain<AddHostCtx>('host.add', [checkCluster, persistHost, createTagsStep<AddHostCtx>('HostVO'), connect as unknown as FlowChain<AddHostCtx>]);
  return { connect, add };
}
