import { HostAgentPaths, type ConnectHostCtx } from '../../../contracts/host.ts';
import { noRollback, type FlowStep } from '../../../core/flow/index.ts';
import { reachHost, type HostFlowDeps } from '../host-agent.ts';

/** `/host/echo` (synchronous): the agent is up and accepts our token. */
export const echoAgent = (deps: HostFlowDeps): FlowStep<ConnectHostCtx> => ({
  name: 'echo-agent',
  async run(ctx, env) {
    const { endpoint } = await reachHost(env.services.db!, deps.extensions, ctx.uuid);
    await env.services.agents!.callSync(endpoint, HostAgentPaths.echo, {});
  },
  rollback: noRollback,
});
