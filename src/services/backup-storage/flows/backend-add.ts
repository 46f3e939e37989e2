import { BackupStorageTypePoint, type AddBackupStorageCtx } from '../../../contracts/backup-storage.ts';
import type { FlowStep } from '../../../core/flow/index.ts';
import type { ExtensionRegistry } from '../../../core/plugin/index.ts';
import { loadBackupStorage } from '../backup-storage-view.ts';

/** Hands the type's own parameters to its backend (which keeps them); rollback makes the backend forget them. */
export function backendAdd(extensions: ExtensionRegistry): FlowStep<AddBackupStorageCtx> {
  return {
    name: 'backend-add',
    async run(ctx, env) {
      const backend = extensions.strategy(BackupStorageTypePoint, ctx.type);
      if (!backend.add) return;
      ctx.backendAdded = true;
      await env.checkpoint();
      await backend.add(await loadBackupStorage(env.services.db!, ctx.uuid), ctx.typeParams);
    },
    async rollback(ctx, env) {
      if (!ctx.backendAdded) return;
      const backend = extensions.findStrategy(BackupStorageTypePoint, ctx.type);
      const row = await env.services.db!.selectFrom('backup_storage').selectAll().where('uuid', '=', ctx.uuid).executeTakeFirst();
      // The row goes in an earlier step's rollback; the backend needs only the identity to forget.
      const view = row ? await loadBackupStorage(env.services.db!, ctx.uuid) : { uuid: ctx.uuid, name: ctx.name, url: ctx.url, type: ctx.type, state: 'Enabled' as const, status: 'Connecting' as const, totalCapacity: 0, availableCapacity: 0 };
      await backend?.remove?.(view);
    },
  };
}
