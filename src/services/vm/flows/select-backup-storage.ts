import type { CreateVmCtx } from '../../../contracts/vm.ts';
import { readCache } from '../../../core/db/index.ts';
import { StratoError, SysErrors } from '../../../core/errors/index.ts';
import { noRollback, type FlowStep } from '../../../core/flow/index.ts';

/** A Ready copy of the image on a Connected, Enabled backup storage attached to the VM's zone (what the root volume is made from). */
export const selectBackupStorage: FlowStep<CreateVmCtx> = {
  name: 'select-backup-storage',
  async run(ctx, env) {
    const db = env.services.db!;
    // Changes only when an image is added or removed or a backup storage changes state: cached until then.
    const ref = await readCache(db).get(`vm.backupStorageOf:${ctx.imageUuid}:${ctx.zoneUuid}`, ['image_backup_storage_ref', 'backup_storage', 'backup_storage_zone_ref'], () => db
      .selectFrom('image_backup_storage_ref as r')
      .innerJoin('backup_storage as b', 'b.uuid', 'r.backupStorageUuid')
      .innerJoin('backup_storage_zone_ref as z', 'z.backupStorageUuid', 'b.uuid')
      .select('r.backupStorageUuid')
      .where('r.imageUuid', '=', ctx.imageUuid).where('r.status', '=', 'Ready').where('b.status', '=', 'Connected').where('b.state', '=', 'Enabled').where('z.zoneUuid', '=', ctx.zoneUuid)
      .executeTakeFirst());
    if (!ref) throw new StratoError(SysErrors.OPERATION_ERROR, `no backup storage attached to zone ${ctx.zoneUuid} has a Ready copy of image ${ctx.imageUuid}`);
    ctx.backupStorageUuid = ref.backupStorageUuid as string;
  },
  rollback: noRollback,
};
