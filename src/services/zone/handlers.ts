import { ZoneEvents, ZoneLifecyclePoint, type CreateZoneCtx, type ZoneInventoryView } from '../../contracts/zone.ts';
import type { ApiParams } from '../../core/api/define-api.ts';
import type { Message } from '../../core/bus/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { findRow, loadInventory, patchRow, stateAfter } from '../../core/resource/resource-store.ts';
import { newUuid } from '../../core/util/uuid.ts';
import type { ChangeZoneState, CreateZone, DeleteZone, UpdateZone } from './apis.ts';
import { createZoneChain } from './flows/create-zone-chain.ts';
import { ZoneInventory } from './schema.ts';

/** Every operation on an existing zone runs in that zone's queue: no locks, no lost updates. */
const queueOf = (uuid: string) => `zone-${uuid}`;

export function zoneHandlers(ctx: NodeContext) {
  const { db, queues, extensions, bus, cascade } = ctx;
  const load = (uuid: string) => loadInventory(db, ZoneInventory, uuid) as Promise<ZoneInventoryView & Record<string, unknown>>;

  return {
    async CreateZone(msg: Message<ApiParams<typeof CreateZone>>) {
      const p = msg.body;
      const uuid = p.resourceUuid ?? newUuid();
      if (p.resourceUuid && (await findRow(db, ZoneInventory, uuid))) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `a zone with uuid ${uuid} already exists`);
      const flowCtx: CreateZoneCtx = { uuid, name: p.name, description: p.description, isDefault: p.isDefault ?? false, systemTags: p.systemTags, userTags: p.userTags };
      await queues.submit(queueOf(uuid), () => ctx.flowEngine.run(createZoneChain, flowCtx, { resourceUuid: uuid }));
      const zone = await load(uuid);
      await extensions.callSafe(ZoneLifecyclePoint, 'afterCreate', zone);
      void bus.publish(ZoneEvents.created, zone);
      return zone;
    },

    async UpdateZone(msg: Message<ApiParams<typeof UpdateZone>>) {
      const p = msg.body;
      return queues.submit(queueOf(p.uuid), async () => {
        await load(p.uuid);
        if (p.isDefault) await db.updateTable('zone').set({ isDefault: false }).where('isDefault', '=', true).where('uuid', '!=', p.uuid).execute();
        return patchRow(db, ZoneInventory, p.uuid, { name: p.name, description: p.description, isDefault: p.isDefault });
      });
    },

    async ChangeZoneState(msg: Message<ApiParams<typeof ChangeZoneState>>) {
      const p = msg.body;
      return queues.submit(queueOf(p.uuid), async () => {
        const zone = await load(p.uuid);
        await extensions.callVeto(ZoneLifecyclePoint, 'preChangeState', zone, p.stateEvent);
        const updated = await patchRow(db, ZoneInventory, p.uuid, { state: stateAfter(p.stateEvent) });
        await extensions.callSafe(ZoneLifecyclePoint, 'afterChangeState', updated as ZoneInventoryView, zone.state);
        return updated;
      });
    },

    async DeleteZone(msg: Message<ApiParams<typeof DeleteZone>>) {
      const p = msg.body;
      return queues.submit(queueOf(p.uuid), async () => {
        // Deleting what does not exist succeeds, as in ZStack: a retried delete is not an error.
        if (!(await findRow(db, ZoneInventory, p.uuid))) return {};
        const result = await cascade.delete({ resource: 'ZoneVO', uuids: [p.uuid], mode: p.deleteMode ?? 'Permissive' });
        if (result.errors.length && (p.deleteMode ?? 'Permissive') === 'Permissive') {
          throw new StratoError(SysErrors.DELETE_RESOURCE_ERROR, `failed to delete zone ${p.uuid}`, { cause: result.errors[0].error });
        }
        return {};
      });
    },
  };
}

/** The zone's own node in the cascade graph: it checks observers' vetoes, then removes rows and tags. */
export function zoneCascadeEntry(ctx: NodeContext) {
  const { db, extensions, tags, bus } = ctx;
  return {
    resource: 'ZoneVO',
    parents: [] as string[],
    async check(uuids: string[]) {
      for (const uuid of uuids) await extensions.callVeto(ZoneLifecyclePoint, 'preDelete', (await loadInventory(db, ZoneInventory, uuid)) as ZoneInventoryView);
    },
    async delete(uuids: string[]) {
      const zones = (await db.selectFrom('zone').selectAll().where('uuid', 'in', uuids).execute()).map((r) => r as unknown as ZoneInventoryView);
      await db.deleteFrom('zone').where('uuid', 'in', uuids).execute();
      await tags.deleteForResources(uuids);
      for (const z of zones) {
        await extensions.callSafe(ZoneLifecyclePoint, 'afterDelete', z);
        void bus.publish(ZoneEvents.deleted, { uuid: z.uuid });
      }
    },
  };
}
