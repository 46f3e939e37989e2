import { PrimaryStorageTypePoint, type AddPrimaryStorageCtx } from '../../../contracts/primary-storage.ts';
import { noRollback, type FlowStep } from '../../../core/flow/index.ts';
import type { ExtensionRegistry } from '../../../core/plugin/index.ts';
import { applyReportedCapacity } from '../capacity.ts';
import { loadPrimaryStorage } from '../primary-storage-view.ts';

/** Connects through the backend and records Connected with the capacity it reports (the row's rollback undoes it). */
export function connectPrimaryStorage(extensions: ExtensionRegistry): FlowStep<AddPrimaryStorageCtx> {
  return {
    name: 'connect-primary-storage',
    async run(ctx, env) {
      const db = env.services.db!;
      const backend = extensions.strategy(PrimaryStorageTypePoint, ctx.type);
      const cap = await backend.connect(await loadPrimaryStorage(db, ctx.uuid));
      await applyReportedCapacity(db, ctx.uuid, cap);
      await db.updateTable('primary_storage').set({ status: 'Connected' }).where('uuid', '=', ctx.uuid).execute();
    },
    rollback: noRollback,
  };
}
