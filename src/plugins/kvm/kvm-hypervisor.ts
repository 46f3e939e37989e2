import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { HostSpec, HypervisorFactory } from '../../contracts/host.ts';
import type { AgentClient } from '../../core/agent/index.ts';
import type { ConfigHandle } from '../../core/config/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { TaskProgressStore } from '../../core/progress/index.ts';
import { agentDataDirOf, deployAgent, DeployErrors, invalidSshLogin, isDeployed, removeAgent, type AgentDeployment, type SshLogin } from '../../core/ansible/index.ts';
import type { KvmHostRow } from './schema.ts';

export interface KvmHypervisorDeps {
  db: Kysely<any>;
  log: Logger;
  progress: TaskProgressStore;
  agents: AgentClient;
  agentPort: ConfigHandle<number>;
  agentRootDir: ConfigHandle<string>;
}

export const loginOf = (address: string, row: { username: string; password: string | null; sshPrivateKey: string | null; sshPort: number }): SshLogin => ({
  address, port: Number(row.sshPort), username: row.username, password: row.password ?? undefined, privateKey: row.sshPrivateKey ?? undefined,
});

/**
 * 'KVM' hosts (ZStack's KVMHostFactory): the agent is deployed by Ansible over SSH on add, and on a
 * reconnect only when the host's agent does not answer with this very deployment's hash.
 */
export function kvmHypervisor(deps: KvmHypervisorDeps): HypervisorFactory {
  const { db, log } = deps;
  const ports = new Map<string, number>();
  /** Hosts whose add never got past the SSH login: their rollback has nothing to remove there. */
  const neverReached = new Set<string>();

  const rowOf = async (uuid: string): Promise<KvmHostRow> => {
    const row = await db.selectFrom('kvm_host').selectAll().where('uuid', '=', uuid).executeTakeFirst();
    if (!row) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `KVM host ${uuid} has no SSH login recorded`);
    return row as KvmHostRow;
  };
  const deploymentOf = (host: HostSpec, row: KvmHostRow): AgentDeployment => ({ role: 'kvm', ownerUuid: host.uuid, login: loginOf(host.managementIp, row), dataDir: row.agentDataDir, port: Number(row.agentPort), token: host.agentToken });

  return {
    async deploy(host, opts) {
      const p = opts.params ?? {};
      const password = typeof p.password === 'string' && p.password ? p.password : null;
      const sshPrivateKey = typeof p.sshPrivateKey === 'string' && p.sshPrivateKey ? p.sshPrivateKey : null;
      // A new host's login; without one (already taken into our table by an earlier run) the row stands.
      if (opts.newAdded && (password || sshPrivateKey || !(await db.selectFrom('kvm_host').select('uuid').where('uuid', '=', host.uuid).executeTakeFirst()))) {
        if (!password && !sshPrivateKey) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, 'a KVM host needs a password or an sshPrivateKey');
        const bad = invalidSshLogin(host.managementIp, String(p.username));
        if (bad) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, bad);
        const row: KvmHostRow = { uuid: host.uuid, managementIp: host.managementIp, username: String(p.username), password, sshPrivateKey, sshPort: Number(p.sshPort ?? 22), agentPort: deps.agentPort.get(), agentDataDir: agentDataDirOf(deps.agentRootDir.get(), host.uuid) };
        await db.deleteFrom('kvm_host').where('uuid', '=', host.uuid).execute();
        await db.insertInto('kvm_host').values(row).execute();
        // Kept in our table from now on: out of the add flow's data, so its journal does not keep them either.
        delete p.password;
        delete p.sshPrivateKey;
      }
      const row = await rowOf(host.uuid);
      if (row.managementIp !== host.managementIp) await db.updateTable('kvm_host').set({ managementIp: host.managementIp }).where('uuid', '=', host.uuid).execute();
      const d = deploymentOf(host, row);
      if (!opts.newAdded && (await isDeployed(d, deps.agents))) {
        log.info({ host: host.uuid }, 'kvm: the agent runs this deployment already, no playbook run');
        return;
      }
      const report = deps.progress.reporter(`deploy-agent-${host.uuid}`);
      const started = Date.now();
      try {
        await deployAgent(d, (percent, task) => report(percent, { task }));
        neverReached.delete(host.uuid);
      } catch (e) {
        const code = e instanceof StratoError ? e.errorCode.code : '';
        if (opts.newAdded && (code === DeployErrors.SSH_LOGIN_REFUSED.code || code === DeployErrors.UNREACHABLE.code)) neverReached.add(host.uuid);
        throw e;
      }
      log.info({ host: host.uuid, ms: Date.now() - started }, 'kvm: agent deployed');
    },

    async endpointOf(host) {
      let port = ports.get(host.uuid);
      if (port === undefined) {
        port = Number((await rowOf(host.uuid)).agentPort);
        ports.set(host.uuid, port);
      }
      return { url: `http://${host.managementIp}:${port}`, token: host.agentToken };
    },

    async cleanup(hostUuid) {
      ports.delete(hostUuid);
      const row = (await db.selectFrom('kvm_host').selectAll().where('uuid', '=', hostUuid).executeTakeFirst()) as KvmHostRow | undefined;
      if (!row) return;
      if (!neverReached.has(hostUuid)) {
        try {
          await removeAgent(loginOf(row.managementIp, row), row.agentDataDir);
        } catch (e) {
          // The host is gone or refuses us: its agent stays behind, which an operator can remove; the record goes anyway.
          log.warn({ host: hostUuid, err: e }, 'kvm: could not remove the agent from the host');
        }
      }
      neverReached.delete(hostUuid);
      await db.deleteFrom('kvm_host').where('uuid', '=', hostUuid).execute();
    },
  };
}
