import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { BackupStorageBackend, BackupStorageView } from '../../contracts/backup-storage.ts';
import { HostAgentPaths } from '../../contracts/host.ts';
import { ImageStoreAgentPaths, type ImageStoreCapacityResponse, type ImageStoreDownloadResponse } from '../../contracts/image-store-agent.ts';
import type { AgentClient, AgentEndpoint } from '../../core/agent/index.ts';
import { currentContext } from '../../core/bus/context.ts';
import type { ConfigHandle } from '../../core/config/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { TaskProgressStore } from '../../core/progress/index.ts';
import { newUuid } from '../../core/util/uuid.ts';
import { agentDataDirOf, deployAgent, DeployErrors, invalidSshLogin, isDeployed, removeAgent, type AgentDeployment, type SshLogin } from '../../core/ansible/index.ts';
import type { ImageStoreRow } from './schema.ts';

export interface ImageStoreDeps {
  db: Kysely<any>;
  log: Logger;
  agents: AgentClient;
  progress: TaskProgressStore;
  agentPort: ConfigHandle<number>;
  agentRootDir: ConfigHandle<string>;
}

/** Downloads are long (images of gigabytes over a slow link): the agent has this long to finish one. */
const DOWNLOAD_TIMEOUT_MS = 6 * 3600_000;

const loginOf = (r: ImageStoreRow): SshLogin => ({ address: r.hostname, port: Number(r.sshPort), username: r.username, password: r.password ?? undefined, privateKey: r.sshPrivateKey ?? undefined });

/**
 * `ImageStoreBackupStorage` for real (ZStack's image store): a `strato agent` deployed on the storage
 * host by the same playbook as KVM hosts (its backup-storage role), then driven by agent commands:
 * download from an http(s) or file URL into the storage's directory, delete, capacity. Hosts fetch
 * images from that agent over HTTP with its token (`downloadSource`).
 */
export function imageStoreBackend(deps: ImageStoreDeps): BackupStorageBackend & { downloadSource(bs: BackupStorageView): Promise<{ url: string; token: string }> } {
  const { db, agents, log } = deps;
  const neverReached = new Set<string>();

  const rowOf = async (uuid: string): Promise<ImageStoreRow> => {
    const row = await db.selectFrom('image_store_backup_storage').selectAll().where('uuid', '=', uuid).executeTakeFirst();
    if (!row) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `image store ${uuid} has no host recorded`);
    return row as ImageStoreRow;
  };
  const deploymentOf = (r: ImageStoreRow): AgentDeployment => ({ role: 'backup-storage', ownerUuid: r.uuid, login: loginOf(r), dataDir: r.agentDataDir, port: Number(r.agentPort), token: r.agentToken });
  const endpointOf = (r: ImageStoreRow): AgentEndpoint => ({ url: `http://${r.hostname}:${r.agentPort}`, token: r.agentToken });

  async function capacity(bs: BackupStorageView) {
    const r = await agents.call<ImageStoreCapacityResponse>(endpointOf(await rowOf(bs.uuid)), ImageStoreAgentPaths.capacity, { url: bs.url });
    return { totalCapacity: Number(r.totalCapacity), availableCapacity: Number(r.availableCapacity) };
  }

  return {
    async add(bs, p) {
      if (!bs.url.startsWith('/')) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `the url of an image store is its absolute directory on the storage host, not [${bs.url}]`);
      const password = typeof p.password === 'string' && p.password ? p.password : null;
      const sshPrivateKey = typeof p.sshPrivateKey === 'string' && p.sshPrivateKey ? p.sshPrivateKey : null;
      if (!password && !sshPrivateKey) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, 'an image store needs a password or an sshPrivateKey');
      const bad = invalidSshLogin(String(p.hostname), String(p.username));
      if (bad) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, bad);
      const row: ImageStoreRow = {
        uuid: bs.uuid, hostname: String(p.hostname), username: String(p.username), password, sshPrivateKey, sshPort: Number(p.sshPort ?? 22),
        agentPort: deps.agentPort.get(), agentDataDir: agentDataDirOf(deps.agentRootDir.get(), bs.uuid, 'bs-'), agentToken: newUuid() + newUuid(),
      };
      await db.deleteFrom('image_store_backup_storage').where('uuid', '=', bs.uuid).execute();
      await db.insertInto('image_store_backup_storage').values(row).execute();
      // Kept in our table from now on: out of the add flow's data, so its journal does not keep them either.
      delete p.password;
      delete p.sshPrivateKey;
      neverReached.add(bs.uuid);
    },

    /** Deploys the agent unless it already runs this deployment, then readies the directory. */
    async connect(bs) {
      const row = await rowOf(bs.uuid);
      const d = deploymentOf(row);
      if (!(await isDeployed(d, agents))) {
        try {
          await deployAgent(d, (percent, task) => deps.progress.reporter(`deploy-agent-${bs.uuid}`)(percent, { task }));
        } catch (e) {
          const code = e instanceof StratoError ? e.errorCode.code : '';
          if (code !== DeployErrors.SSH_LOGIN_REFUSED.code && code !== DeployErrors.UNREACHABLE.code) neverReached.delete(bs.uuid);
          throw e;
        }
      }
      neverReached.delete(bs.uuid);
      // Tells the agent which store it is and where to report: it signs its download-progress reports as this uuid.
      await agents.callSync(endpointOf(row), HostAgentPaths.connect, { hostUuid: bs.uuid, sendCommandUrl: agents.callbackUrl.replace(/callback$/, 'sendcommand') });
      const r = await agents.call<ImageStoreCapacityResponse>(endpointOf(row), ImageStoreAgentPaths.connect, { url: bs.url });
      return { totalCapacity: Number(r.totalCapacity), availableCapacity: Number(r.availableCapacity) };
    },

    capacity,

    async downloadImage(bs, req, onProgress) {
      // The agent copies file URLs and bare paths as root on the storage host: only administrators may name one.
      if (!/^https?:\/\//i.test(req.url) && currentContext()?.caller?.accountType !== 'SystemAdmin') {
        throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, 'file URLs and paths on the image store host are for administrators only; use an http:// or https:// URL');
      }
      onProgress?.(0);
      const r = await agents.call<ImageStoreDownloadResponse>(endpointOf(await rowOf(bs.uuid)), ImageStoreAgentPaths.download, { url: bs.url, imageUuid: req.imageUuid, sourceUrl: req.url, checksum: req.checksum }, {
        timeoutMs: DOWNLOAD_TIMEOUT_MS,
        // The agent's /imagestore/download/progress reports; 100 only once the image is checked and in place.
        onProgress: (r) => onProgress?.(Math.min(99, Number(r.percent) || 0)),
      });
      onProgress?.(100);
      return { installPath: r.installPath, size: Number(r.size), actualSize: Number(r.actualSize), md5sum: r.md5sum, format: r.format };
    },

    async deleteImage(bs, image) {
      await agents.call(endpointOf(await rowOf(bs.uuid)), ImageStoreAgentPaths.delete, { installPath: image.installPath });
    },

    async remove(bs) {
      const row = (await db.selectFrom('image_store_backup_storage').selectAll().where('uuid', '=', bs.uuid).executeTakeFirst()) as ImageStoreRow | undefined;
      if (!row) return;
      if (!neverReached.has(bs.uuid)) {
        try {
          await removeAgent(loginOf(row), row.agentDataDir);
        } catch (e) {
          log.warn({ backupStorage: bs.uuid, err: e }, 'image store: could not remove the agent from the storage host');
        }
      }
      neverReached.delete(bs.uuid);
      await db.deleteFrom('image_store_backup_storage').where('uuid', '=', bs.uuid).execute();
    },

    async downloadSource(bs) {
      const row = await rowOf(bs.uuid);
      return { url: `http://${row.hostname}:${row.agentPort}`, token: row.agentToken };
    },
  };
}
