import type { Kysely } from 'kysely';
import type { InstantiatedVolume, PrimaryStorageBackend, PrimaryStorageView, VolumeSpec } from '../../contracts/primary-storage.ts';
import { BACKUP_STORAGE_SERVICE, BackupStorageMessages, type ImageDownloadSource } from '../../contracts/backup-storage.ts';
import type { AgentClient } from '../../core/agent/index.ts';
import type { Bus } from '../../core/bus/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import { LocalStorageAgentPaths, type LocalStorageVolumeResponse } from './agent-commands.ts';
import type { LocalStorageHosts } from './hosts.ts';

/**
 * The `LocalStorage` type: a directory on every host of the attached clusters. The control plane is
 * here (host refs, per-host capacity, which host holds what); the bits are made by the hosts'
 * agents through the `/localstorage/*` commands (the simulator answers them; a real agent comes later).
 */
export function localStorageBackend(db: Kysely<any>, agents: AgentClient, hosts: LocalStorageHosts, bus: Bus): PrimaryStorageBackend {
  const root = (ps: PrimaryStorageView) => ps.url.replace(/\/+$/, '');
  const volumePath = (ps: PrimaryStorageView, uuid: string) => `${root(ps)}/dataVolumes/acct-admin/vol-${uuid}/${uuid}.qcow2`;
  const cachePath = (ps: PrimaryStorageView, imageUuid: string) => `${root(ps)}/imagecache/template/${imageUuid}/${imageUuid}.qcow2`;

  async function hostOf(psUuid: string, resourceUuid: string): Promise<{ hostUuid: string; size: number } | undefined> {
    const r = await db.selectFrom('local_storage_resource_ref').select(['hostUuid', 'size']).where('primaryStorageUuid', '=', psUuid).where('resourceUuid', '=', resourceUuid).executeTakeFirst();
    return r ? { hostUuid: r.hostUuid as string, size: Number(r.size) } : undefined;
  }

  async function recordOnHost(psUuid: string, resourceUuid: string, resourceType: string, hostUuid: string, size: number): Promise<void> {
    const now = Date.now();
    await db.insertInto('local_storage_resource_ref').values({ primaryStorageUuid: psUuid, resourceUuid, hostUuid, resourceType, size, createDate: now, lastOpDate: now }).execute();
  }

  /** Runs one agent command on a host after taking `size` there; gives it back if the command fails. */
  async function onHost(ps: PrimaryStorageView, size: number, hostUuid: string | undefined, path: string, body: Record<string, unknown>): Promise<{ hostUuid: string; reply: LocalStorageVolumeResponse }> {
    const chosen = await hosts.takeOnHost(ps.uuid, size, hostUuid);
    try {
      return { hostUuid: chosen, reply: await agents.call<LocalStorageVolumeResponse>(await hosts.endpointOf(chosen), path, body) };
    } catch (e) {
      await hosts.giveBackOnHost(ps.uuid, chosen, size);
      throw e;
    }
  }

  async function makeVolume(ps: PrimaryStorageView, volume: VolumeSpec, path: string, extra: Record<string, unknown>): Promise<InstantiatedVolume> {
    const installPath = volumePath(ps, volume.volumeUuid);
    const { hostUuid, reply } = await onHost(ps, volume.size, volume.hostUuid, path, { installUrl: installPath, size: volume.size, volumeUuid: volume.volumeUuid, ...extra });
    await recordOnHost(ps.uuid, volume.volumeUuid, 'VolumeVO', hostUuid, volume.size);
    return { installPath, actualSize: Number(reply.actualSize ?? 0), format: volume.format ?? 'qcow2' };
  }

  return {
    async connect(ps) {
      for (const h of await hosts.connectedHosts(ps.uuid)) await hosts.initHost(ps, h);
      return hosts.capacity(ps.uuid);
    },

    capacity: (ps) => hosts.capacity(ps.uuid),

    async attachToCluster(ps, clusterUuid) {
      for (const h of await hosts.connectedHosts(ps.uuid, clusterUuid)) await hosts.initHost(ps, h);
    },

    async detachFromCluster(ps, clusterUuid) {
      await db.deleteFrom('local_storage_host_ref').where('primaryStorageUuid', '=', ps.uuid).where('hostUuid', 'in', db.selectFrom('host').select('uuid').where('clusterUuid', '=', clusterUuid)).execute();
    },

    createEmptyVolume: (ps, volume) => makeVolume(ps, volume, LocalStorageAgentPaths.createEmptyVolume, {}),

    /** The cache lives on the host with most room; a volume made elsewhere copies it to its own host first. */
    async downloadImageToCache(ps, image) {
      const installUrl = cachePath(ps, image.imageUuid);
      // An image store serves its images over HTTP with a token; other types give no source (the path is read as is).
      const source = await bus.call<Partial<ImageDownloadSource>>(BACKUP_STORAGE_SERVICE, BackupStorageMessages.downloadSource, { backupStorageUuid: image.backupStorageUuid }, { resourceUuid: image.backupStorageUuid });
      const { hostUuid } = await onHost(ps, image.actualSize, undefined, LocalStorageAgentPaths.downloadImage, { backupStorageUuid: image.backupStorageUuid, backupStorageInstallPath: image.backupStorageInstallPath, primaryStorageInstallPath: installUrl, backupStorageUrl: source.url, backupStorageToken: source.token });
      await recordOnHost(ps.uuid, image.imageUuid, 'ImageCacheVO', hostUuid, image.actualSize);
      return { installUrl };
    },

    async createVolumeFromCache(ps, volume, cache) {
      const cached = await hostOf(ps.uuid, cache.imageUuid);
      if (!cached) throw new StratoError(SysErrors.OPERATION_ERROR, `image ${cache.imageUuid} has no cache on local storage ${ps.uuid}`);
      if (volume.hostUuid && volume.hostUuid !== cached.hostUuid) {
        throw new StratoError(SysErrors.OPERATION_ERROR, `image ${cache.imageUuid} is cached on host ${cached.hostUuid} of local storage ${ps.uuid}, not on ${volume.hostUuid}`);
      }
      return makeVolume(ps, { ...volume, hostUuid: cached.hostUuid }, LocalStorageAgentPaths.createVolumeFromCache, { templatePathInCache: cache.installUrl });
    },

    async resizeVolume(ps, volume) {
      const where = await hostOf(ps.uuid, volume.volumeUuid);
      if (!where) throw new StratoError(SysErrors.OPERATION_ERROR, `volume ${volume.volumeUuid} is on no host of local storage ${ps.uuid}`);
      const growth = Math.max(0, volume.size - where.size);
      const { reply } = await onHost(ps, growth, where.hostUuid, LocalStorageAgentPaths.resizeVolume, { installPath: volume.installPath, size: volume.size });
      await db.updateTable('local_storage_resource_ref').set({ size: volume.size, lastOpDate: Date.now() }).where('primaryStorageUuid', '=', ps.uuid).where('resourceUuid', '=', volume.volumeUuid).execute();
      return { size: volume.size, actualSize: Number(reply.actualSize ?? 0) };
    },

    async deleteVolume(ps, volume) {
      const where = await hostOf(ps.uuid, volume.volumeUuid);
      if (!where) return;
      await agents.call(await hosts.endpointOf(where.hostUuid), LocalStorageAgentPaths.delete, { path: volume.installPath });
      await db.deleteFrom('local_storage_resource_ref').where('primaryStorageUuid', '=', ps.uuid).where('resourceUuid', '=', volume.volumeUuid).execute();
      await hosts.giveBackOnHost(ps.uuid, where.hostUuid, where.size);
    },

    async remove(ps) {
      await db.deleteFrom('local_storage_resource_ref').where('primaryStorageUuid', '=', ps.uuid).execute();
      await db.deleteFrom('local_storage_host_ref').where('primaryStorageUuid', '=', ps.uuid).execute();
    },
  };
}
