import { sql } from 'kysely';
import {
  BackupStorageLifecyclePoint, BackupStorageMessages, BackupStorageTypePoint,
  type AddBackupStorageBody, type AddBackupStorageCtx, type BackupStorageView, type DownloadedImage, type DownloadImageRequest,
} from '../../contracts/backup-storage.ts';
import type { ApiParams } from '../../core/api/define-api.ts';
import type { Message } from '../../core/bus/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { FlowChain } from '../../core/flow/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { findRow, patchRow, stateAfter } from '../../core/resource/resource-store.ts';
import { newUuid } from '../../core/util/uuid.ts';
import type {
  AddImageStoreBackupStorage, AttachBackupStorageToZone, ChangeBackupStorageState, DeleteBackupStorage, DetachBackupStorageFromZone, ReconnectBackupStorage, UpdateBackupStorage,
} from './apis.ts';
import { loadBackupStorage, withZones } from './backup-storage-view.ts';
import { BackupStorageInventory } from './schema.ts';

/** Every operation that changes one backup storage's row or attachments runs in its queue. */
export const queueOf = (uuid: string) => `backup-storage-${uuid}`;

export function backupStorageHandlers(ctx: NodeContext, addChain: FlowChain<AddBackupStorageCtx>) {
  const { db, queues, extensions, cascade } = ctx;

  async function add(p: AddBackupStorageBody) {
    // SYS.1013 naming the type before anything is written when no plugin implements it.
    extensions.strategy(BackupStorageTypePoint, p.type);
    const uuid = p.resourceUuid ?? newUuid();
    if (p.resourceUuid && (await findRow(db, BackupStorageInventory, uuid))) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `a backup storage with uuid ${uuid} already exists`);
    const flowCtx: AddBackupStorageCtx = { uuid, name: p.name, description: p.description, url: p.url, type: p.type, typeParams: p.typeParams ?? {}, systemTags: p.systemTags, userTags: p.userTags };
    await queues.submit(queueOf(uuid), () => ctx.flowEngine.run(addChain, flowCtx, { resourceUuid: uuid }));
    await extensions.callSafe(BackupStorageLifecyclePoint, 'afterAdd', await loadBackupStorage(db, uuid));
    return withZones(db, uuid);
  }

  async function mustFindZone(zoneUuid: string): Promise<void> {
    const zone = await db.selectFrom('zone').select('uuid').where('uuid', '=', zoneUuid).executeTakeFirst();
    if (!zone) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find Zone[uuid:${zoneUuid}]`);
  }

  function usable(bs: BackupStorageView): void {
    if (bs.state !== 'Enabled') throw new StratoError(SysErrors.OPERATION_ERROR, `backup storage ${bs.uuid} is ${bs.state}`);
    if (bs.status !== 'Connected') throw new StratoError(SysErrors.OPERATION_ERROR, `backup storage ${bs.uuid} is ${bs.status}, not Connected`);
  }

  return {
    async AddImageStoreBackupStorage(msg: Message<ApiParams<typeof AddImageStoreBackupStorage>>) {
      const { name, description, url, hostname, username, password, sshPrivateKey, sshPort, importImages, systemTags, userTags, resourceUuid } = msg.body;
      return add({ resourceUuid, name, description, url, type: 'ImageStoreBackupStorage', typeParams: { hostname, username, password, sshPrivateKey, sshPort: sshPort ?? 22, importImages: importImages ?? false }, systemTags, userTags });
    },

    async [BackupStorageMessages.add](msg: Message<AddBackupStorageBody>) {
      return add(msg.body);
    },

    async UpdateBackupStorage(msg: Message<ApiParams<typeof UpdateBackupStorage>>) {
      const p = msg.body;
      return queues.submit(queueOf(p.uuid), async () => {
        await patchRow(db, BackupStorageInventory, p.uuid, { name: p.name, description: p.description });
        return withZones(db, p.uuid);
      });
    },

    async ChangeBackupStorageState(msg: Message<ApiParams<typeof ChangeBackupStorageState>>) {
      const p = msg.body;
      return queues.submit(queueOf(p.uuid), async () => {
        await patchRow(db, BackupStorageInventory, p.uuid, { state: stateAfter(p.stateEvent) });
        return withZones(db, p.uuid);
      });
    },

    async ReconnectBackupStorage(msg: Message<ApiParams<typeof ReconnectBackupStorage>>) {
      const p = msg.body;
      return queues.submit(queueOf(p.uuid), async () => {
        const bs = await loadBackupStorage(db, p.uuid);
        const backend = extensions.strategy(BackupStorageTypePoint, bs.type);
        await patchRow(db, BackupStorageInventory, p.uuid, { status: 'Connecting' });
        try {
          const cap = await backend.connect(bs);
          await patchRow(db, BackupStorageInventory, p.uuid, { status: 'Connected', totalCapacity: cap.totalCapacity, availableCapacity: cap.availableCapacity });
        } catch (e) {
          await patchRow(db, BackupStorageInventory, p.uuid, { status: 'Disconnected' });
          throw new StratoError(SysErrors.OPERATION_ERROR, `failed to reconnect backup storage ${p.uuid}`, { cause: e });
        }
        return withZones(db, p.uuid);
      });
    },

    async DeleteBackupStorage(msg: Message<ApiParams<typeof DeleteBackupStorage>>) {
      const p = msg.body;
      const mode = p.deleteMode ?? 'Permissive';
      return queues.submit(queueOf(p.uuid), async () => {
        if (!(await findRow(db, BackupStorageInventory, p.uuid))) return {};
        const result = await cascade.delete({ resource: 'BackupStorageVO', uuids: [p.uuid], mode });
        if (result.errors.length && mode === 'Permissive') throw new StratoError(SysErrors.DELETE_RESOURCE_ERROR, `failed to delete backup storage ${p.uuid}`, { cause: result.errors[0].error });
        return {};
      });
    },

    async AttachBackupStorageToZone(msg: Message<ApiParams<typeof AttachBackupStorageToZone>>) {
      const p = msg.body;
      return queues.submit(queueOf(p.backupStorageUuid), async () => {
        const bs = await loadBackupStorage(db, p.backupStorageUuid);
        await mustFindZone(p.zoneUuid);
        const existing = await db.selectFrom('backup_storage_zone_ref').select('id').where('backupStorageUuid', '=', bs.uuid).where('zoneUuid', '=', p.zoneUuid).executeTakeFirst();
        if (existing) throw new StratoError(SysErrors.OPERATION_ERROR, `backup storage ${bs.uuid} is already attached to zone ${p.zoneUuid}`);
        const now = Date.now();
        await db.insertInto('backup_storage_zone_ref').values({ id: newUuid(), backupStorageUuid: bs.uuid, zoneUuid: p.zoneUuid, createDate: now, lastOpDate: now }).execute();
        await extensions.callSafe(BackupStorageLifecyclePoint, 'afterAttachToZone', bs, p.zoneUuid);
        return withZones(db, bs.uuid);
      });
    },

    async DetachBackupStorageFromZone(msg: Message<ApiParams<typeof DetachBackupStorageFromZone>>) {
      const p = msg.body;
      return queues.submit(queueOf(p.backupStorageUuid), async () => {
        const bs = await loadBackupStorage(db, p.backupStorageUuid);
        await mustFindZone(p.zoneUuid);
        const ref = await db.selectFrom('backup_storage_zone_ref').select('id').where('backupStorageUuid', '=', bs.uuid).where('zoneUuid', '=', p.zoneUuid).executeTakeFirst();
        if (!ref) throw new StratoError(SysErrors.OPERATION_ERROR, `backup storage ${bs.uuid} is not attached to zone ${p.zoneUuid}`);
        await extensions.callVeto(BackupStorageLifecyclePoint, 'preDetachFromZone', bs, p.zoneUuid);
        await db.deleteFrom('backup_storage_zone_ref').where('id', '=', ref.id).execute();
        await extensions.callSafe(BackupStorageLifecyclePoint, 'afterDetachFromZone', bs, p.zoneUuid);
        return withZones(db, bs.uuid);
      });
    },

    /**
     * Not in the storage's queue: downloads are long and many may run at once. Capacity is taken
     * with one conditional UPDATE, so concurrent downloads never drive it below zero.
     */
    async [BackupStorageMessages.downloadImage](msg: Message<{ backupStorageUuid: string } & DownloadImageRequest>): Promise<DownloadedImage> {
      const { backupStorageUuid, ...req } = msg.body;
      const bs = await loadBackupStorage(db, backupStorageUuid);
      usable(bs);
      const backend = extensions.strategy(BackupStorageTypePoint, bs.type);
      const image = await backend.downloadImage(bs, req, ctx.progress.reporter(`download-image-${bs.uuid}`));
      const taken = await db
        .updateTable('backup_storage')
        .set((eb) => ({ availableCapacity: eb('availableCapacity', '-', image.actualSize), lastOpDate: Date.now() }))
        .where('uuid', '=', bs.uuid)
        .where('availableCapacity', '>=', image.actualSize)
        .executeTakeFirst();
      if (Number(taken.numUpdatedRows) === 0) {
        await backend.deleteImage(bs, { imageUuid: req.imageUuid, installPath: image.installPath });
        throw new StratoError(SysErrors.OPERATION_ERROR, `backup storage ${bs.uuid} has not enough capacity for image ${req.imageUuid} (${image.actualSize} bytes)`);
      }
      return image;
    },

    async [BackupStorageMessages.downloadSource](msg: Message<{ backupStorageUuid: string }>) {
      const bs = await loadBackupStorage(db, msg.body.backupStorageUuid);
      return (await extensions.strategy(BackupStorageTypePoint, bs.type).downloadSource?.(bs)) ?? {};
    },

    async [BackupStorageMessages.deleteImage](msg: Message<{ backupStorageUuid: string; imageUuid: string; installPath: string; actualSize?: number }>) {
      const p = msg.body;
      if (!(await findRow(db, BackupStorageInventory, p.backupStorageUuid))) return {};
      const bs = await loadBackupStorage(db, p.backupStorageUuid);
      await extensions.strategy(BackupStorageTypePoint, bs.type).deleteImage(bs, { imageUuid: p.imageUuid, installPath: p.installPath });
      const size = Math.max(0, p.actualSize ?? 0);
      if (size > 0) {
        await db
          .updateTable('backup_storage')
          .set({ availableCapacity: sql`CASE WHEN availableCapacity + ${size} > totalCapacity THEN totalCapacity ELSE availableCapacity + ${size} END`, lastOpDate: Date.now() })
          .where('uuid', '=', bs.uuid)
          .execute();
      }
      return {};
    },
  };
}
