import { L3NetworkLifecyclePoint, L3NetworkMessages, type L3NetworkView } from '../../contracts/network.ts';
import type { Message } from '../../core/bus/index.ts';
import type { CascadeEntry } from '../../core/cascade/index.ts';
import { StratoError } from '../../core/errors/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { findRow, loadInventory } from '../../core/resource/resource-store.ts';
import { l3Queue } from './handlers.ts';
import { L3NetworkInventory } from './schema.ts';

/** L3 networks hang under L2 networks (and so under zones); their ranges, used IPs and DNS go with them. */
export function l3CascadeEntry(ctx: NodeContext): CascadeEntry {
  const { db, extensions, bus } = ctx;
  return {
    resource: 'L3NetworkVO',
    parents: ['L2NetworkVO'],
    async children(_parent, l2Uuids) {
      return (await db.selectFrom('l3_network').select('uuid').where('l2NetworkUuid', 'in', l2Uuids).execute()).map((r) => r.uuid as string);
    },
    async check(uuids) {
      for (const uuid of uuids) {
        if (await findRow(db, L3NetworkInventory, uuid)) await extensions.callVeto(L3NetworkLifecyclePoint, 'preDelete', (await loadInventory(db, L3NetworkInventory, uuid)) as L3NetworkView);
      }
    },
    async delete(uuids, { force }) {
      const results = await Promise.all(uuids.map((uuid) => bus.send('l3Network', L3NetworkMessages.delete, { uuid }, { resourceUuid: uuid })));
      const failed = results.find((r) => !r.success);
      if (failed && !failed.success && !force) throw new StratoError(failed.error);
    },
  };
}

/** `l3.Delete`: one L3 network with its used IPs, IP ranges, DNS servers and tags, in its queue. */
export function l3DeleteHandler(ctx: NodeContext) {
  const { db, queues, tags, extensions } = ctx;
  return async (msg: Message<{ uuid: string }>) =>
    queues.submit(l3Queue(msg.body.uuid), async () => {
      const row = await findRow(db, L3NetworkInventory, msg.body.uuid);
      if (!row) return {};
      const l3 = (await loadInventory(db, L3NetworkInventory, msg.body.uuid)) as L3NetworkView;
      const ranges = (await db.selectFrom('ip_range').select('uuid').where('l3NetworkUuid', '=', msg.body.uuid).execute()).map((r) => r.uuid as string);
      await db.transaction().execute(async (tx) => {
        await tx.deleteFrom('used_ip').where('l3NetworkUuid', '=', msg.body.uuid).execute();
        await tx.deleteFrom('ip_range').where('l3NetworkUuid', '=', msg.body.uuid).execute();
        await tx.deleteFrom('l3_network_dns').where('l3NetworkUuid', '=', msg.body.uuid).execute();
        await tx.deleteFrom('l3_network').where('uuid', '=', msg.body.uuid).execute();
        await tags.deleteForResources([msg.body.uuid, ...ranges], tx);
      });
      await extensions.callSafe(L3NetworkLifecyclePoint, 'afterDelete', l3);
      return {};
    });
}
