import { HostAgentPaths, type ConnectHostCtx } from '../../../contracts/host.ts';
import { noRollback, type FlowStep } from '../../../core/flow/index.ts';
import { reachHost, type HostFlowDeps } from '../host-agent.ts';

/** `/host/connect` (synchronous): tells the agent which host it is and where to report; its answer (the host facts) goes on the context. */
export const connectAgent = (deps: HostFlowDeps): FlowStep<ConnectHostCtx> => ({
  name: 'connect-agent',
  async run(ctx, env) {
    const { endpoint } = await reachHost(env.services.db!, deps.extensions, ctx.uuid);
    const agents = env.services.agents!;
    ctx.facts = await agents.callSync(endpoint, HostAgentPaths.connect, { hostUuid: ctx.uuid, sendCommandUrl: agents.callbackUrl.replace(/callback$/, 'sendcommand') });
  },
  rollback: noRollback,
});
