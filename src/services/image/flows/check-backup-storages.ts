import type { AddImageCtx } from '../../../contracts/image.ts';
import { StratoError, SysErrors } from '../../../core/errors/index.ts';
import { noRollback, type FlowStep } from '../../../core/flow/index.ts';

/** Every named backup storage must exist, be Enabled and Connected; nothing is changed. */
export const checkBackupStorages: FlowStep<AddImageCtx> = {
  name: 'check-backup-storages',
  async run(ctx, env) {
    const rows = await env.services.db!.selectFrom('backup_storage').select(['uuid', 'state', 'status']).where('uuid', 'in', ctx.backupStorageUuids).execute();
    for (const uuid of ctx.backupStorageUuids) {
      const bs = rows.find((r) => r.uuid === uuid);
      if (!bs) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find BackupStorage[uuid:${uuid}]`);
      if (bs.state !== 'Enabled' || bs.status !== 'Connected') throw new StratoError(SysErrors.OPERATION_ERROR, `backup storage ${uuid} is ${bs.state}/${bs.status}: images are added only to Enabled, Connected backup storages`);
    }
  },
  rollback: noRollback,
};
