import { BACKUP_STORAGE_SERVICE, BackupStorageMessages } from '../../contracts/backup-storage.ts';
import { ImageLifecyclePoint, type AddImageCtx, type ImageView } from '../../contracts/image.ts';
import type { ApiParams } from '../../core/api/define-api.ts';
import type { Message } from '../../core/bus/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { findRow, loadInventory, patchRow, stateAfter } from '../../core/resource/resource-store.ts';
import { newUuid } from '../../core/util/uuid.ts';
import type { AddImage, ChangeImageState, DeleteImage, ExpungeImage, RecoverImage, UpdateImage } from './apis.ts';
import { addImageChain } from './flows/add-image-chain.ts';
import { imageWithRefs } from './image-view.ts';
import { ImageInventory } from './schema.ts';

const queueOf = (uuid: string) => `image-${uuid}`;

interface RefRow {
  id: string;
  backupStorageUuid: string;
  installPath: string | null;
  status: string;
  actualSize: number | string | null;
}

export function imageHandlers(ctx: NodeContext) {
  const { db, queues, extensions, bus, tags } = ctx;
  const view = async (uuid: string) => (await loadInventory(db, ImageInventory, uuid)) as ImageView;

  async function refsOf(imageUuid: string, only?: string[]): Promise<RefRow[]> {
    let q = db.selectFrom('image_backup_storage_ref').select(['id', 'backupStorageUuid', 'installPath', 'status', 'actualSize']).where('imageUuid', '=', imageUuid);
    if (only?.length) q = q.where('backupStorageUuid', 'in', only);
    return (await q.execute()) as RefRow[];
  }

  /** The image's status follows its references: Deleted once none is Ready, Ready once one is. */
  async function syncStatus(uuid: string): Promise<void> {
    const refs = await refsOf(uuid);
    const status = refs.some((r) => r.status === 'Ready') ? 'Ready' : 'Deleted';
    await patchRow(db, ImageInventory, uuid, { status });
  }

  return {
    async AddImage(msg: Message<ApiParams<typeof AddImage>>) {
      const p = msg.body;
      const uuid = p.resourceUuid ?? newUuid();
      if (p.resourceUuid && (await findRow(db, ImageInventory, uuid))) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `an image with uuid ${uuid} already exists`);
      const mediaType = p.mediaType ?? 'RootVolumeTemplate';
      if (mediaType === 'ISO' && p.format && p.format !== 'iso') throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `an ISO image must have format iso, not ${p.format}`);
      const flowCtx: AddImageCtx = {
        uuid, name: p.name, description: p.description, url: p.url, mediaType, guestOsType: p.guestOsType, architecture: p.architecture, system: p.system ?? false,
        format: p.format, platform: p.platform, type: p.type ?? 'zstack', virtio: p.virtio ?? true, backupStorageUuids: [...new Set(p.backupStorageUuids)],
        systemTags: p.systemTags, userTags: p.userTags,
      };
      await queues.submit(queueOf(uuid), () => ctx.flowEngine.run(addImageChain, flowCtx, { resourceUuid: uuid }));
      await extensions.callSafe(ImageLifecyclePoint, 'afterAdd', await view(uuid));
      return imageWithRefs(db, uuid);
    },

    async UpdateImage(msg: Message<ApiParams<typeof UpdateImage>>) {
      const { uuid, name, description, guestOsType, mediaType, format, system, platform, architecture, virtio } = msg.body;
      return queues.submit(queueOf(uuid), async () => {
        await patchRow(db, ImageInventory, uuid, { name, description, guestOsType, mediaType, format, system, platform, architecture, virtio });
        return imageWithRefs(db, uuid);
      });
    },

    async ChangeImageState(msg: Message<ApiParams<typeof ChangeImageState>>) {
      const p = msg.body;
      return queues.submit(queueOf(p.uuid), async () => {
        await patchRow(db, ImageInventory, p.uuid, { state: stateAfter(p.stateEvent) });
        return imageWithRefs(db, p.uuid);
      });
    },

    /** ZStack's Delay policy: the copies stay on the storages, marked Deleted, until ExpungeImage. */
    async DeleteImage(msg: Message<ApiParams<typeof DeleteImage>>) {
      const p = msg.body;
      return queues.submit(queueOf(p.uuid), async () => {
        if (!(await findRow(db, ImageInventory, p.uuid))) return {};
        const refs = (await refsOf(p.uuid, p.backupStorageUuids)).filter((r) => r.status !== 'Deleted');
        if (refs.length) await db.updateTable('image_backup_storage_ref').set({ status: 'Deleted', lastOpDate: Date.now() }).where('id', 'in', refs.map((r) => r.id)).execute();
        await syncStatus(p.uuid);
        const image = await view(p.uuid);
        if (image.status === 'Deleted') await extensions.callSafe(ImageLifecyclePoint, 'afterDelete', image);
        return {};
      });
    },

    async RecoverImage(msg: Message<ApiParams<typeof RecoverImage>>) {
      const p = msg.body;
      return queues.submit(queueOf(p.uuid), async () => {
        await view(p.uuid);
        const refs = (await refsOf(p.uuid, p.backupStorageUuids)).filter((r) => r.status === 'Deleted');
        if (!refs.length) throw new StratoError(SysErrors.OPERATION_ERROR, `image ${p.uuid} is not deleted on ${p.backupStorageUuids ? 'the given backup storages' : 'any backup storage'}`);
        await db.updateTable('image_backup_storage_ref').set({ status: 'Ready', lastOpDate: Date.now() }).where('id', 'in', refs.map((r) => r.id)).execute();
        await syncStatus(p.uuid);
        return imageWithRefs(db, p.uuid);
      });
    },

    /** Removes Deleted copies from their storages; the image row goes with its last reference. */
    async ExpungeImage(msg: Message<ApiParams<typeof ExpungeImage>>) {
      const p = msg.body;
      return queues.submit(queueOf(p.uuid), async () => {
        const image = await view(p.uuid);
        const refs = (await refsOf(p.uuid, p.backupStorageUuids)).filter((r) => r.status === 'Deleted');
        if (!refs.length) throw new StratoError(SysErrors.OPERATION_ERROR, `image ${p.uuid} is not deleted: delete it before expunging it`);
        for (const ref of refs) {
          if (ref.installPath) {
            await bus.call(BACKUP_STORAGE_SERVICE, BackupStorageMessages.deleteImage, { backupStorageUuid: ref.backupStorageUuid, imageUuid: p.uuid, installPath: ref.installPath, actualSize: Number(ref.actualSize ?? 0) }, { resourceUuid: ref.backupStorageUuid });
          }
          await db.deleteFrom('image_backup_storage_ref').where('id', '=', ref.id).execute();
        }
        if ((await refsOf(p.uuid)).length === 0) {
          await db.deleteFrom('image').where('uuid', '=', p.uuid).execute();
          await tags.deleteForResources([p.uuid]);
          await extensions.callSafe(ImageLifecyclePoint, 'afterExpunge', image);
        }
        return {};
      });
    },
  };
}
