import { VOLUME_SERVICE, VolumeLifecyclePoint, VolumeMessages, type VolumeView } from '../../contracts/volume.ts';
import type { CascadeEntry } from '../../core/cascade/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { loadInventory } from '../../core/resource/resource-store.ts';
import { VolumeInventory } from './schema.ts';

/** Volumes hang under their primary storage: deleting it expunges them (bits and capacity), each in its own queue. */
export function volumeCascadeEntry(ctx: NodeContext): CascadeEntry {
  const { db, bus, extensions } = ctx;
  return {
    resource: 'VolumeVO',
    parents: ['PrimaryStorageVO'],
    async children(_parent, psUuids) {
      return (await db.selectFrom('volume').select('uuid').where('primaryStorageUuid', 'in', psUuids).execute()).map((r) => r.uuid as string);
    },
    async check(uuids, cascade) {
      // A volume may go with its VM when that VM is deleted by the same cascade (a zone going away).
      const dying = new Set(cascade.subtree.get('VmInstanceVO') ?? []);
      for (const uuid of uuids) {
        const v = (await loadInventory(db, VolumeInventory, uuid)) as VolumeView;
        if (v.vmInstanceUuid && !dying.has(v.vmInstanceUuid)) throw new StratoError(SysErrors.OPERATION_ERROR, `volume ${uuid} is attached to VM ${v.vmInstanceUuid}`);
        await extensions.callVeto(VolumeLifecyclePoint, 'preDelete', v);
      }
    },
    async delete(uuids, { force }) {
      const results = await Promise.all(uuids.map((uuid) => bus.send(VOLUME_SERVICE, VolumeMessages.expunge, { uuid, force }, { resourceUuid: uuid })));
      const failed = results.find((r) => !r.success);
      if (failed && !failed.success && !force) throw new StratoError(failed.error);
    },
  };
}
