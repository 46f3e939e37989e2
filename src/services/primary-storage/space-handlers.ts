import {
  PrimaryStorageMessages, PrimaryStorageTypePoint,
  type AllocateSpaceReply, type AllocateSpaceRequest, type ImageCacheSource, type InstantiatedVolume, type InstantiateVolumeRequest, type PrimaryStorageView, type ReleaseSpaceRequest,
} from '../../contracts/primary-storage.ts';
import type { Message } from '../../core/bus/index.ts';
import type { ConfigHandle } from '../../core/config/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { findRow } from '../../core/resource/resource-store.ts';
import { newUuid } from '../../core/util/uuid.ts';
import { charged, insufficient, release, tryReserve } from './capacity.ts';
import { loadPrimaryStorage, mustBeUsable } from './primary-storage-view.ts';
import { PrimaryStorageInventory } from './schema.ts';

/**
 * The space and volume messages other services send. None runs in the storage's queue: many volumes
 * are made at once on one storage, and capacity is taken with conditional UPDATEs instead.
 */
export function spaceHandlers(ctx: NodeContext, ratio: ConfigHandle<number>) {
  const { db, queues, extensions } = ctx;
  const backendOf = (ps: PrimaryStorageView) => extensions.strategy(PrimaryStorageTypePoint, ps.type);

  async function candidates(req: AllocateSpaceRequest): Promise<string[]> {
    let q = db.selectFrom('primary_storage').select('uuid').where('state', '=', 'Enabled').where('status', '=', 'Connected');
    if (req.clusterUuid) q = q.where('uuid', 'in', db.selectFrom('primary_storage_cluster_ref').select('primaryStorageUuid').where('clusterUuid', '=', req.clusterUuid));
    else if (req.zoneUuid) q = q.where('zoneUuid', '=', req.zoneUuid);
    if (req.requiredTypes?.length) q = q.where('type', 'in', req.requiredTypes);
    if (req.avoid?.length) q = q.where('uuid', 'not in', req.avoid);
    return (await q.orderBy('availableCapacity', 'desc').orderBy('uuid').execute()).map((r) => r.uuid as string);
  }

  async function allocate(req: AllocateSpaceRequest): Promise<AllocateSpaceReply> {
    if (!Number.isSafeInteger(req.size) || req.size < 0) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `size must be a non-negative integer, got ${req.size}`);
    const amount = charged(req.size, ratio.get());
    if (req.primaryStorageUuid) {
      const ps = await loadPrimaryStorage(db, req.primaryStorageUuid);
      mustBeUsable(ps);
      if (!(await tryReserve(db, ps.uuid, amount))) throw insufficient(req.size, ps.uuid);
      return { primaryStorageUuid: ps.uuid, charged: amount };
    }
    if (!req.clusterUuid && !req.zoneUuid) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, 'allocating primary storage space needs a primaryStorageUuid, a clusterUuid or a zoneUuid');
    // Most room first; a concurrent reservation that wins the race moves us on to the next one.
    for (const uuid of await candidates(req)) if (await tryReserve(db, uuid, amount)) return { primaryStorageUuid: uuid, charged: amount };
    throw insufficient(req.size, req.clusterUuid ? `attached to cluster ${req.clusterUuid}` : `in zone ${req.zoneUuid}`);
  }

  /**
   * The image's copy in this storage's cache, downloaded (and its space reserved) on first use; one download per image and storage at a time.
   * The row charges one copy; a backend keeping more (local storage: one per host) charges the others itself.
   */
  /** Where a connected backup storage of the storage's zone has the Ready image. */
  async function sourceOf(ps: PrimaryStorageView, imageUuid: string): Promise<ImageCacheSource> {
    const image = await db.selectFrom('image').selectAll().where('uuid', '=', imageUuid).executeTakeFirst();
    if (!image) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find Image[uuid:${imageUuid}]`);
    if (image.status !== 'Ready') throw new StratoError(SysErrors.OPERATION_ERROR, `image ${imageUuid} is ${String(image.status)}, not Ready`);
    const ref = await db
      .selectFrom('image_backup_storage_ref as r')
      .innerJoin('backup_storage as b', 'b.uuid', 'r.backupStorageUuid')
      .innerJoin('backup_storage_zone_ref as z', 'z.backupStorageUuid', 'b.uuid')
      .select(['r.backupStorageUuid', 'r.installPath'])
      .where('r.imageUuid', '=', imageUuid).where('r.status', '=', 'Ready').where('b.status', '=', 'Connected').where('z.zoneUuid', '=', ps.zoneUuid)
      .executeTakeFirst();
    if (!ref?.installPath) throw new StratoError(SysErrors.OPERATION_ERROR, `image ${imageUuid} is on no connected backup storage of zone ${ps.zoneUuid}`);
    return {
      imageUuid, mediaType: String(image.mediaType), format: (image.format as string | null) ?? null, size: Number(image.size ?? 0), actualSize: Number(image.actualSize ?? image.size ?? 0),
      backupStorageUuid: ref.backupStorageUuid as string, backupStorageInstallPath: String(ref.installPath),
    };
  }

  async function imageCache(ps: PrimaryStorageView, imageUuid: string, hostUuid?: string): Promise<{ imageUuid: string; installUrl: string }> {
    return queues.submit(`image-cache-${ps.uuid}-${imageUuid}`, async () => {
      const existing = await db.selectFrom('image_cache').select('installUrl').where('primaryStorageUuid', '=', ps.uuid).where('imageUuid', '=', imageUuid).executeTakeFirst();
      if (existing) return { imageUuid, installUrl: existing.installUrl as string };
      const source = await sourceOf(ps, imageUuid);
      const amount = charged(source.actualSize, ratio.get());
      if (!(await tryReserve(db, ps.uuid, amount))) throw insufficient(source.actualSize, `${ps.uuid} (image cache of ${imageUuid})`);
      try {
        const { installUrl } = await backendOf(ps).downloadImageToCache(ps, source, hostUuid);
        const now = Date.now();
        await db.insertInto('image_cache').values({ id: newUuid(), primaryStorageUuid: ps.uuid, imageUuid, installUrl, mediaType: source.mediaType, size: source.actualSize, state: 'ready', charged: amount, createDate: now, lastOpDate: now }).execute();
        return { imageUuid, installUrl };
      } catch (e) {
        await release(db, ps.uuid, amount);
        throw e;
      }
    });
  }

  return {
    [PrimaryStorageMessages.allocateSpace]: (msg: Message<AllocateSpaceRequest>) => allocate(msg.body),
    async [PrimaryStorageMessages.imageCacheSource](msg: Message<{ primaryStorageUuid: string; imageUuid: string }>): Promise<ImageCacheSource> {
      return sourceOf(await loadPrimaryStorage(db, msg.body.primaryStorageUuid), msg.body.imageUuid);
    },

    async [PrimaryStorageMessages.releaseSpace](msg: Message<ReleaseSpaceRequest>) {
      await release(db, msg.body.primaryStorageUuid, msg.body.charged);
      return {};
    },

    async [PrimaryStorageMessages.instantiateVolume](msg: Message<InstantiateVolumeRequest>): Promise<InstantiatedVolume> {
      const { primaryStorageUuid, imageUuid, ...volume } = msg.body;
      const ps = await loadPrimaryStorage(db, primaryStorageUuid);
      mustBeUsable(ps);
      if (!imageUuid) return backendOf(ps).createEmptyVolume(ps, volume);
      return backendOf(ps).createVolumeFromCache(ps, volume, await imageCache(ps, imageUuid, volume.hostUuid));
    },

    async [PrimaryStorageMessages.resizeVolume](msg: Message<{ primaryStorageUuid: string; volumeUuid: string; installPath: string; size: number }>) {
      const { primaryStorageUuid, ...volume } = msg.body;
      const ps = await loadPrimaryStorage(db, primaryStorageUuid);
      return backendOf(ps).resizeVolume(ps, volume);
    },

    async [PrimaryStorageMessages.deleteVolume](msg: Message<{ primaryStorageUuid: string; volumeUuid: string; installPath: string }>) {
      const { primaryStorageUuid, ...volume } = msg.body;
      if (!(await findRow(db, PrimaryStorageInventory, primaryStorageUuid))) return {};
      const ps = await loadPrimaryStorage(db, primaryStorageUuid);
      await backendOf(ps).deleteVolume(ps, volume);
      return {};
    },
  };
}
