import { PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages } from '../../contracts/primary-storage.ts';
import { VolumeMessages } from '../../contracts/volume.ts';
import type { Message } from '../../core/bus/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { volumeQueueOf } from './handlers.ts';

/**
 * `volume.Uninstantiate`: what a failed attach sends to take back the instantiate it asked for. The
 * row goes back to NotInstantiated first, by one conditional update (on no VM, still at the install
 * path given), so a concurrent attach that found the volume Ready either wins (and this does nothing)
 * or sees it NotInstantiated; only then are the bits deleted and the space given back.
 */
export function uninstantiateHandler(ctx: NodeContext) {
  const { db, queues, bus } = ctx;
  return {
    async [VolumeMessages.uninstantiate](msg: Message<{ uuid: string; installPath: string; format?: string | null }>) {
      const p = msg.body;
      return queues.submit(volumeQueueOf(p.uuid), async () => {
        const row = await db.selectFrom('volume').select(['primaryStorageUuid', 'charged', 'format']).where('uuid', '=', p.uuid).executeTakeFirst();
        if (!row?.primaryStorageUuid) return { uninstantiated: false };
        const r = await db.updateTable('volume')
          .set({ primaryStorageUuid: null, installPath: null, actualSize: 0, charged: 0, status: 'NotInstantiated', format: p.format ?? row.format, lastOpDate: Date.now() })
          .where('uuid', '=', p.uuid).where('vmInstanceUuid', 'is', null).where('installPath', '=', p.installPath).where('status', '=', 'Ready')
          .executeTakeFirst();
        if (Number(r.numUpdatedRows) !== 1) return { uninstantiated: false };
        await bus.call(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.deleteVolume, { primaryStorageUuid: row.primaryStorageUuid, volumeUuid: p.uuid, installPath: p.installPath });
        await bus.call(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.releaseSpace, { primaryStorageUuid: row.primaryStorageUuid, charged: Number(row.charged) });
        return { uninstantiated: true };
      });
    },
  };
}
