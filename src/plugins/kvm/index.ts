import { HostMessages, HypervisorFactoryPoint } from '../../contracts/host.ts';
import { AgentCommandPoint, VmCommandDecoratorPoint } from '../../contracts/vm.ts';

/** What a restarted agent reports (src/agent/README.md). */
const RECONNECT_ME_PATH = '/kvm/reconnectme';
import type { ServiceModule } from '../../core/node-context.ts';
import { kvmHypervisor } from './kvm-hypervisor.ts';
import { kvmMigrateTarget, MIGRATE_PROGRESS_PATH } from './migrate-target.ts';
import { kvmNicNetworks } from './nic-networks.ts';
import { kvmHostMigration } from './schema.ts';

// Agent deployment lives in core/ansible (shared with image-store); re-exported for existing callers.
export { agentDataDirOf, STRATO_ROOT } from '../../core/ansible/index.ts';

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
    ctx.extensions.registerObserver(VmCommandDecoratorPoint, kvmNicNetworks(ctx.db), { by: 'kvm' });
    // /vm/migrate carries the destination agent's token and URL; the source agent's progress reaches MigrateVm's job.
    const migration = kvmMigrateTarget(ctx.db, ctx.progress);
    ctx.extensions.registerObserver(VmCommandDecoratorPoint, migration.decorator, { by: 'kvm' });
    ctx.extensions.registerStrategy(AgentCommandPoint, MIGRATE_PROGRESS_PATH, migration.progressHandler, { by: 'kvm' });
    // A restarted agent asks to be reconnected (its facts may have changed): answered at once, done in the background.
    ctx.extensions.registerStrategy(AgentCommandPoint, RECONNECT_ME_PATH, {
      async handle(body) {
        const uuid = String(body.hostUuid ?? '');
        if (!(await ctx.db.selectFrom('kvm_host').select('uuid').where('uuid', '=', uuid).executeTakeFirst())) return { error: `no KVM host ${uuid}` };
        ctx.log.info({ host: uuid, reason: body.reason }, 'kvm: the agent asked to be reconnected');
        void ctx.bus.call('host', HostMessages.reconnect, { uuid }, { resourceUuid: uuid }).catch((err: unknown) => ctx.log.warn({ host: uuid, err }, 'kvm: reconnect asked by the agent failed'));
        return {};
      },
    }, { by: 'kvm' });
    ctx.extensions.registerStrategy(HypervisorFactoryPoint, 'KVM', kvmHypervisor({ db: ctx.db, log: ctx.log, progress: ctx.progress, agents: ctx.agents, agentPort, agentRootDir }), { by: 'kvm' });
  },
};
