import { PrimaryStorageTypePoint, type AddPrimaryStorageCtx, type PrimaryStorageView } from '../../../contracts/primary-storage.ts';
import type { FlowStep } from '../../../core/flow/index.ts';
import type { ExtensionRegistry } from '../../../core/plugin/index.ts';
import { loadPrimaryStorage } from '../primary-storage-view.ts';

/** Hands the type's own parameters to its backend (which keeps them); rollback makes the backend forget them. */
export function backendAdd(extensions: ExtensionRegistry): FlowStep<AddPrimaryStorageCtx> {
  return {
    name: 'backend-add',
    async run(ctx, env) {
      const backend = extensions.strategy(PrimaryStorageTypePoint, ctx.type);
      if (!backend.add) return;
      ctx.backendAdded = true;
      await env.checkpoint();
      await backend.add(await loadPrimaryStorage(env.services.db!, ctx.uuid), ctx.typeParams);
    },
    async rollback(ctx, env) {
      if (!ctx.backendAdded) return;
      const backend = extensions.findStrategy(PrimaryStorageTypePoint, ctx.type);
      const row = await env.services.db!.selectFrom('primary_storage').select('uuid').where('uuid', '=', ctx.uuid).executeTakeFirst();
      // The row goes in an earlier step's rollback; the backend needs only the identity to forget.
      const view: PrimaryStorageView = row
        ? await loadPrimaryStorage(env.services.db!, ctx.uuid)
        : { uuid: ctx.uuid, zoneUuid: ctx.zoneUuid, name: ctx.name, url: ctx.url, type: ctx.type, state: 'Enabled', status: 'Connecting', totalCapacity: 0, availableCapacity: 0, totalPhysicalCapacity: 0, availablePhysicalCapacity: 0, systemUsedCapacity: 0 };
      await backend?.remove?.(view);
    },
  };
}
