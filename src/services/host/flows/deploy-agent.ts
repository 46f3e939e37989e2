import { HypervisorFactoryPoint, type ConnectHostCtx } from '../../../contracts/host.ts';
import type { FlowStep } from '../../../core/flow/index.ts';
import { hostSpecOf, type HostFlowDeps } from '../host-agent.ts';

/** The hypervisor plugin readies the agent (KVM: Ansible; simulator: a simulated agent). A new host's deployment is undone on rollback. */
export const deployAgent = (deps: HostFlowDeps): FlowStep<ConnectHostCtx> => ({
  name: 'deploy-agent',
  async run(ctx, env) {
    const spec = await hostSpecOf(env.services.db!, ctx.uuid);
    await deps.extensions.strategy(HypervisorFactoryPoint, spec.hypervisorType).deploy(spec, { newAdded: ctx.newAdded, params: ctx.hypervisorParams });
  },
  async rollback(ctx, env) {
    if (!ctx.newAdded) return;
    const row = await env.services.db!.selectFrom('host').select('hypervisorType').where('uuid', '=', ctx.uuid).executeTakeFirst();
    const factory = row && deps.extensions.findStrategy(HypervisorFactoryPoint, row.hypervisorType as string);
    await factory?.cleanup(ctx.uuid);
  },
});
