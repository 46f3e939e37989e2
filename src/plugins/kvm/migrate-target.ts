import type { Kysely } from 'kysely';
import { VmAgentPaths, type AgentCommandHandler, type VmCommandDecorator } from '../../contracts/vm.ts';
import type { TaskProgressStore } from '../../core/progress/index.ts';

/** What a KVM agent reports while `/vm/migrate` runs (src/agent/vm/migrate.ts): `{vmInstanceUuid, percent}`. */
export const MIGRATE_PROGRESS_PATH = '/vm/migrate/progress';

/** How long a migration's progress is listened for at most (a lost 100 % report must not keep it forever). */
const LISTEN_MS = 2 * 60 * 60 * 1000;

/**
 * `/vm/migrate` to a KVM host's agent gets what the source agent needs to reach the destination's:
 * its token (`destAgentToken`) and URL (`destAgentUrl`: the port it was deployed on), read from the
 * destination's host and `kvm_host` rows. The migration's progress, reported by the source agent on
 * `/vm/migrate/progress`, is filed under the API call that sent the command (MigrateVm's job): the
 * reporter is taken here, while the call's context is current, and found again by VM uuid (one
 * migration per VM at a time: they run in the VM's queue); reports signed by another host are ignored.
 */
export function kvmMigrateTarget(db: Kysely<any>, progress: TaskProgressStore): { decorator: VmCommandDecorator; progressHandler: AgentCommandHandler } {
  const listening = new Map<string, { report: (percent: number) => void; timer: NodeJS.Timeout; sourceHostUuid: string }>();
  const forget = (vmUuid: string) => {
    clearTimeout(listening.get(vmUuid)?.timer);
    listening.delete(vmUuid);
  };

  const decorator: VmCommandDecorator = {
    hypervisorTypes: ['KVM'],
    async decorate(path, cmd, hostUuid) {
      if (path !== VmAgentPaths.migrate || typeof cmd.destHostUuid !== 'string') return cmd;
      const dest = await db.selectFrom('host as h').leftJoin('kvm_host as k', 'k.uuid', 'h.uuid').select(['h.managementIp as managementIp', 'h.agentToken as agentToken', 'k.agentPort as agentPort']).where('h.uuid', '=', cmd.destHostUuid).executeTakeFirst();
      if (!dest) return cmd; // the agent refuses without a token: the error names what is missing
      const vmUuid = String(cmd.vmInstanceUuid ?? '');
      if (vmUuid) {
        forget(vmUuid);
        const timer = setTimeout(() => forget(vmUuid), LISTEN_MS);
        timer.unref();
        listening.set(vmUuid, { report: progress.reporter(`migrate-vm-${vmUuid}`), timer, sourceHostUuid: hostUuid });
      }
      const managementIp = String(cmd.destHostManagementIp ?? dest.managementIp);
      return { ...cmd, destHostManagementIp: managementIp, destAgentToken: dest.agentToken, destAgentUrl: `http://${String(dest.managementIp)}:${Number(dest.agentPort ?? 7070)}` };
    },
  };

  const progressHandler: AgentCommandHandler = {
    handle(body) {
      const vmUuid = String(body.vmInstanceUuid ?? '');
      const l = listening.get(vmUuid);
      // Only the source's agent speaks for its migration (the report route sets hostUuid to the signer).
      if (!l || body.hostUuid !== l.sourceHostUuid) return Promise.resolve({ delivered: false });
      const percent = Math.max(0, Math.min(100, Number(body.percent) || 0));
      l.report(percent);
      if (percent >= 100) forget(vmUuid);
      return Promise.resolve({ delivered: true });
    },
  };

  return { decorator, progressHandler };
}
