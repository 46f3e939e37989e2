import { PrimaryStorageLifecyclePoint, PrimaryStorageMessages, PrimaryStorageTypePoint } from '../../contracts/primary-storage.ts';
import type { Message } from '../../core/bus/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { findRow } from '../../core/resource/resource-store.ts';
import { queueOf } from './handlers.ts';
import { loadPrimaryStorage } from './primary-storage-view.ts';
import { PrimaryStorageInventory } from './schema.ts';

/** `primaryStorage.Delete`, sent by the cascade once the storage's volumes are gone: backend, caches, refs, row, tags. */
export function deleteHandler(ctx: NodeContext) {
  const { db, queues, extensions, tags } = ctx;
  return {
    async [PrimaryStorageMessages.delete](msg: Message<{ uuid: string; force?: boolean }>) {
      const { uuid, force } = msg.body;
      return queues.submit(queueOf(uuid), async () => {
        if (!(await findRow(db, PrimaryStorageInventory, uuid))) return {};
        const ps = await loadPrimaryStorage(db, uuid);
        try {
          await extensions.findStrategy(PrimaryStorageTypePoint, ps.type)?.remove?.(ps);
        } catch (e) {
          if (!force) throw e;
        }
        await db.deleteFrom('image_cache').where('primaryStorageUuid', '=', uuid).execute();
        await db.deleteFrom('primary_storage_cluster_ref').where('primaryStorageUuid', '=', uuid).execute();
        await db.deleteFrom('primary_storage').where('uuid', '=', uuid).execute();
        await tags.deleteForResources([uuid]);
        await extensions.callSafe(PrimaryStorageLifecyclePoint, 'afterDelete', ps);
        return {};
      });
    },
  };
}
