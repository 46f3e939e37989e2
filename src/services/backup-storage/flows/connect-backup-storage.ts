import { BackupStorageTypePoint, type AddBackupStorageCtx } from '../../../contracts/backup-storage.ts';
import { noRollback, type FlowStep } from '../../../core/flow/index.ts';
import type { ExtensionRegistry } from '../../../core/plugin/index.ts';
import { loadBackupStorage } from '../backup-storage-view.ts';

/** Connects through the backend and records Connected with the capacity it reports (the row's rollback undoes it). */
export function connectBackupStorage(extensions: ExtensionRegistry): FlowStep<AddBackupStorageCtx> {
  return {
    name: 'connect-backup-storage',
    async run(ctx, env) {
      const db = env.services.db!;
      const backend = extensions.strategy(BackupStorageTypePoint, ctx.type);
      const cap = await backend.connect(await loadBackupStorage(db, ctx.uuid));
      await db.updateTable('backup_storage').set({ status: 'Connected', totalCapacity: cap.totalCapacity, availableCapacity: cap.availableCapacity, lastOpDate: Date.now() }).where('uuid', '=', ctx.uuid).execute();
    },
    rollback: noRollback,
  };
}
