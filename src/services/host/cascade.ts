import { HostLifecyclePoint, HostMessages, type HostInventoryView } from '../../contracts/host.ts';
import type { CascadeEntry } from '../../core/cascade/index.ts';
import { StratoError } from '../../core/errors/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { loadInventory } from '../../core/resource/resource-store.ts';
import { HostInventory } from './schema.ts';

/** Hosts hang under clusters (and so under zones): each goes through a message to its owner, in its queue. */
export function hostCascadeEntry(ctx: NodeContext): CascadeEntry {
  const { db, extensions, bus } = ctx;
  return {
    resource: 'HostVO',
    parents: ['ClusterVO'],
    async children(_parent, clusterUuids) {
      const rows = await db.selectFrom('host').select('uuid').where('clusterUuid', 'in', clusterUuids).execute();
      return rows.map((r) => r.uuid as string);
    },
    async check(uuids) {
      for (const uuid of uuids) await extensions.callVeto(HostLifecyclePoint, 'preDelete', (await loadInventory(db, HostInventory, uuid)) as HostInventoryView);
    },
    async delete(uuids, { force }) {
      const results = await Promise.all(uuids.map((uuid) => bus.send('host', HostMessages.delete, { uuid }, { resourceUuid: uuid })));
      const failed = results.find((r) => !r.success);
      if (failed && !failed.success && !force) throw new StratoError(failed.error);
    },
  };
}
