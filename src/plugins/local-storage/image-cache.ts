import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { BACKUP_STORAGE_SERVICE, BackupStorageMessages, type ImageDownloadSource } from '../../contracts/backup-storage.ts';
import { PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages, type AllocateSpaceReply, type ImageCacheSource, type PrimaryStorageView } from '../../contracts/primary-storage.ts';
import type { AgentCallOptions, AgentClient } from '../../core/agent/index.ts';
import type { Bus } from '../../core/bus/index.ts';
import type { WorkQueues } from '../../core/queue/index.ts';
import { LocalStorageAgentPaths } from './agent-commands.ts';
import type { LocalStorageHosts } from './hosts.ts';

export const IMAGE_CACHE_RESOURCE_TYPE = 'ImageCacheVO';

export const cachePathOf = (psUrl: string, imageUuid: string) => `${psUrl.replace(/\/+$/, '')}/imagecache/template/${imageUuid}/${imageUuid}.qcow2`;

export interface LocalStorageImageCacheDeps {
  db: Kysely<any>;
  agents: AgentClient;
  hosts: LocalStorageHosts;
  bus: Bus;
  queues: WorkQueues;
  log: Logger;
}

/** One host's copy of an image cache (a `local_storage_resource_ref` row of type ImageCacheVO). */
export interface HostCacheCopy {
  hostUuid: string;
  installPath: string;
  size: number;
  /** What this copy took from the storage's availableCapacity (0: the service's image_cache row carries it). */
  charged: number;
}

/**
 * Image caches on local storage, one per host (ZStack's LocalStorageKvmBackend: a volume is made from
 * the cache of its own host, downloaded there first when missing). Each copy takes its size on its host;
 * the storage as a whole is charged for every copy: the primary-storage service's image_cache row
 * (one per storage and image) charges one, each further copy is charged here through AllocateSpace and
 * remembers it in its ref's `charged`. Removing the copy that rides on the service's charge hands that
 * role to another copy (whose own charge is given back), so the storage always pays once per copy.
 */
export function localStorageImageCache({ db, agents, hosts, bus, queues, log }: LocalStorageImageCacheDeps) {
  const refs = 'local_storage_resource_ref';

  async function copiesOf(psUuid: string, imageUuid: string): Promise<Array<{ hostUuid: string; size: number; charged: number }>> {
    const rows = await db.selectFrom(refs).select(['hostUuid', 'size', 'charged']).where('primaryStorageUuid', '=', psUuid).where('resourceUuid', '=', imageUuid).where('resourceType', '=', IMAGE_CACHE_RESOURCE_TYPE).orderBy('hostUuid').execute();
    return rows.map((r) => ({ hostUuid: r.hostUuid as string, size: Number(r.size), charged: Number(r.charged ?? 0) }));
  }

  /** Where a backup storage of the storage's zone has the image: the service's own answer, as for its first copy. */
  const sourceOf = (ps: PrimaryStorageView, imageUuid: string) =>
    bus.call<ImageCacheSource>(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.imageCacheSource, { primaryStorageUuid: ps.uuid, imageUuid }, { resourceUuid: ps.uuid });

  /**
   * Downloads the image into one host's cache (or the host with most room): room on the host, the
   * storage charged when `chargeStorage`, the agent's download, the ref. Any failure gives all back.
   */
  async function download(ps: PrimaryStorageView, source: ImageCacheSource, hostUuid: string | undefined, chargeStorage: boolean, opts: AgentCallOptions = {}): Promise<HostCacheCopy> {
    const installPath = cachePathOf(ps.url, source.imageUuid);
    const size = source.actualSize;
    const host = await hosts.takeOnHost(ps.uuid, size, hostUuid);
    let charged = 0;
    try {
      if (chargeStorage) charged = (await bus.call<AllocateSpaceReply>(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.allocateSpace, { size, primaryStorageUuid: ps.uuid }, { resourceUuid: ps.uuid })).charged;
      // An image store serves its images over HTTP with a token; other types give no source (the path is read as is).
      const from = await bus.call<Partial<ImageDownloadSource>>(BACKUP_STORAGE_SERVICE, BackupStorageMessages.downloadSource, { backupStorageUuid: source.backupStorageUuid }, { resourceUuid: source.backupStorageUuid });
      await agents.call(await hosts.endpointOf(host), LocalStorageAgentPaths.downloadImage, { backupStorageUuid: source.backupStorageUuid, backupStorageInstallPath: source.backupStorageInstallPath, primaryStorageInstallPath: installPath, backupStorageUrl: from.url, backupStorageToken: from.token }, opts);
      try {
        const now = Date.now();
        await db.insertInto(refs).values({ primaryStorageUuid: ps.uuid, resourceUuid: source.imageUuid, hostUuid: host, resourceType: IMAGE_CACHE_RESOURCE_TYPE, size, charged, createDate: now, lastOpDate: now }).execute();
      } catch (e) {
        await deleteBits(host, installPath);
        throw e;
      }
    } catch (e) {
      await hosts.giveBackOnHost(ps.uuid, host, size);
      if (charged) await bus.call(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.releaseSpace, { primaryStorageUuid: ps.uuid, charged }, { resourceUuid: ps.uuid });
      throw e;
    }
    return { hostUuid: host, installPath, size, charged };
  }

  async function deleteBits(hostUuid: string, path: string): Promise<void> {
    try {
      await agents.call(await hosts.endpointOf(hostUuid), LocalStorageAgentPaths.delete, { path });
    } catch (e) {
      log.warn({ host: hostUuid, path, err: e instanceof Error ? e.message : String(e) }, 'local storage: could not delete an image cache copy on its host');
    }
  }

  /**
   * The image in `hostUuid`'s cache, downloaded first when missing; one download per storage, image and
   * host at a time. `made` says whether this call downloaded it (a migration's rollback removes only that).
   * The first copy of an image rides on the service's charge; every further one is charged here.
   */
  async function ensureOn(ps: PrimaryStorageView, imageUuid: string, hostUuid: string, source?: ImageCacheSource, opts: AgentCallOptions = {}): Promise<HostCacheCopy & { made: boolean }> {
    return queues.submit(`local-storage-image-cache-${ps.uuid}-${imageUuid}-${hostUuid}`, async () => {
      const copies = await copiesOf(ps.uuid, imageUuid);
      const here = copies.find((c) => c.hostUuid === hostUuid);
      if (here) return { ...here, installPath: cachePathOf(ps.url, imageUuid), made: false };
      const copy = await download(ps, source ?? (await sourceOf(ps, imageUuid)), hostUuid, copies.length > 0, opts);
      return { ...copy, made: true };
    });
  }

  /**
   * Forgets one host's copy: its ref, its room on the host, its charge on the storage (the copy riding on
   * the service's charge hands that role to another copy, which gives back its own). `deleteBits` also
   * asks the host to delete the file (best effort).
   */
  async function removeCopy(psUuid: string, imageUuid: string, hostUuid: string, opts: { deleteBits?: string } = {}): Promise<void> {
    const copy = (await copiesOf(psUuid, imageUuid)).find((c) => c.hostUuid === hostUuid);
    if (!copy) return;
    if (opts.deleteBits) await deleteBits(hostUuid, opts.deleteBits);
    const gone = await db.deleteFrom(refs).where('primaryStorageUuid', '=', psUuid).where('resourceUuid', '=', imageUuid).where('hostUuid', '=', hostUuid).where('resourceType', '=', IMAGE_CACHE_RESOURCE_TYPE).executeTakeFirst();
    if (Number(gone.numDeletedRows) !== 1) return; // someone else removed it meanwhile
    await hosts.giveBackOnHost(psUuid, hostUuid, copy.size);
    let toRelease = copy.charged;
    if (copy.charged === 0) {
      const heir = (await copiesOf(psUuid, imageUuid)).find((c) => c.charged > 0);
      if (heir) {
        await db.updateTable(refs).set({ charged: 0, lastOpDate: Date.now() }).where('primaryStorageUuid', '=', psUuid).where('resourceUuid', '=', imageUuid).where('hostUuid', '=', heir.hostUuid).execute();
        toRelease = heir.charged;
      }
    }
    if (toRelease > 0) await bus.call(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.releaseSpace, { primaryStorageUuid: psUuid, charged: toRelease }, { resourceUuid: psUuid });
  }

  /** Every image cache copy on these hosts (a host deleted, a cluster detached): records and charges only. */
  async function removeCopiesOnHosts(hostUuids: string[], psUuid?: string): Promise<void> {
    if (!hostUuids.length) return;
    let q = db.selectFrom(refs).select(['primaryStorageUuid', 'resourceUuid', 'hostUuid']).where('hostUuid', 'in', hostUuids).where('resourceType', '=', IMAGE_CACHE_RESOURCE_TYPE);
    if (psUuid) q = q.where('primaryStorageUuid', '=', psUuid);
    for (const r of await q.execute()) await removeCopy(r.primaryStorageUuid as string, r.resourceUuid as string, r.hostUuid as string);
  }

  /** Every copy of every image on the storage (it is being deleted): each connected host asked to delete its files, best effort. */
  async function deleteAllOf(psUuid: string): Promise<void> {
    // Only Connected hosts are asked: a storage must not wait out an unreachable agent's timeout to go.
    const rows = await db.selectFrom(`${refs} as r`).innerJoin('host as h', 'h.uuid', 'r.hostUuid').select(['r.resourceUuid as resourceUuid', 'r.hostUuid as hostUuid'])
      .where('r.primaryStorageUuid', '=', psUuid).where('r.resourceType', '=', IMAGE_CACHE_RESOURCE_TYPE).where('h.status', '=', 'Connected').execute();
    const ps = await db.selectFrom('primary_storage').select('url').where('uuid', '=', psUuid).executeTakeFirst();
    if (ps) for (const r of rows) await deleteBits(r.hostUuid as string, cachePathOf(String(ps.url), r.resourceUuid as string));
  }

  return { copiesOf, sourceOf, download, ensureOn, removeCopy, removeCopiesOnHosts, deleteAllOf };
}

export type LocalStorageImageCache = ReturnType<typeof localStorageImageCache>;
