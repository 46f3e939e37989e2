import { HypervisorFactoryPoint } from '../../contracts/host.ts';
import { VmCommandDecoratorPoint } from '../../contracts/vm.ts';
import type { ServiceModule } from '../../core/node-context.ts';
import { kvmHypervisor } from './kvm-hypervisor.ts';
import { kvmNicNetworks } from './nic-networks.ts';
import { kvmHostMigration } from './schema.ts';

export { agentDataDirOf, deployAgent, isDeployed, removeAgent, deploymentHashOf, STRATO_ROOT, type AgentDeployment } from './ansible/agent-deployment.ts';
export type { SshLogin } from './ansible/ssh-login.ts';
export { DeployErrors } from './errors.ts';

/**
 * The 'KVM' hypervisor (ZStack's kvm plugin): AddKVMHost deploys `strato agent` on the host with the
 * playbook in deploy/ over SSH; the agent runs the host's VMs with QEMU.
 */
export const kvmPlugin: ServiceModule = {
  id: 'kvm',
  migrations: [kvmHostMigration],
  setup(ctx) {
    const agentPort = ctx.config.define({ category: 'kvm', name: 'agent.port', type: 'number', defaultValue: 7070, min: 1, max: 65535, description: 'the port KVM host agents listen on (used for hosts added from now on)' });
    const agentRootDir = ctx.config.define({ category: 'kvm', name: 'agent.rootDir', type: 'string', defaultValue: '/var/lib/strato-agent', description: "where on a KVM host agents keep their state: one directory per host under it (used for hosts added from now on)" });
    ctx.extensions.registerStrategy(VmCommandDecoratorPoint, 'KVM', kvmNicNetworks(ctx.db), { by: 'kvm' });
    ctx.extensions.registerStrategy(HypervisorFactoryPoint, 'KVM', kvmHypervisor({ db: ctx.db, log: ctx.log, progress: ctx.progress, agents: ctx.agents, agentPort, agentRootDir }), { by: 'kvm' });
  },
};
