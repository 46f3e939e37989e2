import type { Kysely } from 'kysely';
import type { InstantiatedVolume, PrimaryStorageBackend, PrimaryStorageView, VolumeSpec } from '../../contracts/primary-storage.ts';
import type { AgentCallOptions, AgentClient } from '../../core/agent/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { TaskProgressStore } from '../../core/progress/index.ts';
import { LocalStorageAgentPaths, type LocalStorageVolumeResponse } from './agent-commands.ts';
import type { LocalStorageHosts } from './hosts.ts';
import { IMAGE_CACHE_RESOURCE_TYPE, type LocalStorageImageCache } from './image-cache.ts';

/**
 * The `LocalStorage` type: a directory on every host of the attached clusters. The control plane is
 * here (host refs, per-host capacity, which host holds what); the bits are made by the hosts'
 * agents through the `/localstorage/*` commands (the simulator answers them; a real agent comes later).
 */
export function localStorageBackend(db: Kysely<any>, agents: AgentClient, hosts: LocalStorageHosts, caches: LocalStorageImageCache, progress?: TaskProgressStore): PrimaryStorageBackend {
  const root = (ps: PrimaryStorageView) => ps.url.replace(/\/+$/, '');
  const volumePath = (ps: PrimaryStorageView, uuid: string) => `${root(ps)}/dataVolumes/acct-admin/vol-${uuid}/${uuid}.qcow2`;

  /** The one host holding a volume (an image cache has a copy per host: see image-cache.ts). */
  async function volumeHostOf(psUuid: string, volumeUuid: string): Promise<{ hostUuid: string; size: number } | undefined> {
    const r = await db.selectFrom('local_storage_resource_ref').select(['hostUuid', 'size']).where('primaryStorageUuid', '=', psUuid).where('resourceUuid', '=', volumeUuid).where('resourceType', '=', 'VolumeVO').executeTakeFirst();
    return r ? { hostUuid: r.hostUuid as string, size: Number(r.size) } : undefined;
  }

  /** Without a host asked for: a host that has the image cached and room for the volume, else the one with most room (its cache is filled first). */
  async function hostForVolumeFromCache(psUuid: string, imageUuid: string, size: number): Promise<string> {
    const cached = await db.selectFrom('local_storage_host_ref as h')
      .innerJoin('local_storage_resource_ref as r', (j) => j.onRef('r.primaryStorageUuid', '=', 'h.primaryStorageUuid').onRef('r.hostUuid', '=', 'h.hostUuid'))
      .select('h.hostUuid').where('h.primaryStorageUuid', '=', psUuid).where('r.resourceUuid', '=', imageUuid).where('r.resourceType', '=', IMAGE_CACHE_RESOURCE_TYPE).where('h.availableCapacity', '>=', size)
      .orderBy('h.availableCapacity', 'desc').orderBy('h.hostUuid').executeTakeFirst();
    if (cached) return cached.hostUuid as string;
    const roomiest = await db.selectFrom('local_storage_host_ref').select('hostUuid').where('primaryStorageUuid', '=', psUuid).orderBy('availableCapacity', 'desc').orderBy('hostUuid').executeTakeFirst();
    if (!roomiest) throw new StratoError(SysErrors.OPERATION_ERROR, `local storage ${psUuid} has no host`);
    return roomiest.hostUuid as string;
  }

  async function recordOnHost(psUuid: string, resourceUuid: string, resourceType: string, hostUuid: string, size: number): Promise<void> {
    const now = Date.now();
    await db.insertInto('local_storage_resource_ref').values({ primaryStorageUuid: psUuid, resourceUuid, hostUuid, resourceType, size, createDate: now, lastOpDate: now }).execute();
  }

  /** Runs one agent command on a host after taking `size` there; gives it back if the command fails. */
  async function onHost(ps: PrimaryStorageView, size: number, hostUuid: string | undefined, path: string, body: Record<string, unknown>, opts: AgentCallOptions = {}): Promise<{ hostUuid: string; reply: LocalStorageVolumeResponse }> {
    const chosen = await hosts.takeOnHost(ps.uuid, size, hostUuid);
    try {
      return { hostUuid: chosen, reply: await agents.call<LocalStorageVolumeResponse>(await hosts.endpointOf(chosen), path, body, opts) };
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
      const gone = await db.selectFrom('host').select('uuid').where('clusterUuid', '=', clusterUuid).execute();
      await caches.removeCopiesOnHosts(gone.map((h) => h.uuid as string), ps.uuid);
      await db.deleteFrom('local_storage_host_ref').where('primaryStorageUuid', '=', ps.uuid).where('hostUuid', 'in', db.selectFrom('host').select('uuid').where('clusterUuid', '=', clusterUuid)).execute();
    },

    createEmptyVolume: (ps, volume) => makeVolume(ps, volume, LocalStorageAgentPaths.createEmptyVolume, {}),

    /** The first copy of the image: in the cache of the host the volume will be on (when known), else of the host with most room. */
    async downloadImageToCache(ps, image, hostUuid) {
      // The host's /localstorage/imagestore/download/progress reports feed the calling job's progress (CreateVmInstance's).
      const report = progress?.reporter(`download-image-cache-${image.imageUuid}`);
      const opts = { onProgress: report && ((r: Record<string, unknown>) => report(Math.min(99, Number(r.percent) || 0))) };
      const copy = hostUuid ? await caches.ensureOn(ps, image.imageUuid, hostUuid, image, opts) : await caches.download(ps, image, undefined, false, opts);
      report?.(100);
      return { installUrl: copy.installPath };
    },

    /** The volume is a linked clone of its own host's cache copy, downloaded there first when that host has none. */
    async createVolumeFromCache(ps, volume, cache) {
      const hostUuid = volume.hostUuid ?? (await hostForVolumeFromCache(ps.uuid, cache.imageUuid, volume.size));
      const copy = await caches.ensureOn(ps, cache.imageUuid, hostUuid);
      return makeVolume(ps, { ...volume, hostUuid }, LocalStorageAgentPaths.createVolumeFromCache, { templatePathInCache: copy.installPath });
    },

    async resizeVolume(ps, volume) {
      const where = await volumeHostOf(ps.uuid, volume.volumeUuid);
      if (!where) throw new StratoError(SysErrors.OPERATION_ERROR, `volume ${volume.volumeUuid} is on no host of local storage ${ps.uuid}`);
      const growth = Math.max(0, volume.size - where.size);
      const { reply } = await onHost(ps, growth, where.hostUuid, LocalStorageAgentPaths.resizeVolume, { installPath: volume.installPath, size: volume.size });
      await db.updateTable('local_storage_resource_ref').set({ size: volume.size, lastOpDate: Date.now() }).where('primaryStorageUuid', '=', ps.uuid).where('resourceUuid', '=', volume.volumeUuid).execute();
      return { size: volume.size, actualSize: Number(reply.actualSize ?? 0) };
    },

    async deleteVolume(ps, volume) {
      const where = await volumeHostOf(ps.uuid, volume.volumeUuid);
      if (!where) return;
      // A VM's volume on a host that was deleted since: the file went with the host, only the record is left
      // (without this the VM could never be expunged: no agent to ask).
      if (await hosts.hostExists(where.hostUuid)) await agents.call(await hosts.endpointOf(where.hostUuid), LocalStorageAgentPaths.delete, { path: volume.installPath });
      await db.deleteFrom('local_storage_resource_ref').where('primaryStorageUuid', '=', ps.uuid).where('resourceUuid', '=', volume.volumeUuid).execute();
      await hosts.giveBackOnHost(ps.uuid, where.hostUuid, where.size);
    },

    async remove(ps) {
      await caches.deleteAllOf(ps.uuid);
      await db.deleteFrom('local_storage_resource_ref').where('primaryStorageUuid', '=', ps.uuid).execute();
      await db.deleteFrom('local_storage_host_ref').where('primaryStorageUuid', '=', ps.uuid).execute();
    },
  };
}
