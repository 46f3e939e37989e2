import type { CommandContext } from '../command-registry.ts';
import { progressReporter } from '../storage/fetch-file.ts';
import { MIGRATE_PROGRESS_PATH } from './migrate.ts';

/**
 * A migration's percent reported to the node that sent `/vm/migrate` (its `…/sendcommand`, as image
 * downloads report): `{taskUuid, vmInstanceUuid, percent}`, at most once a second and once per percent.
 */
export function migrateProgress(ctx: CommandContext, vmInstanceUuid: string | undefined): (percent: number) => void {
  const report = progressReporter(ctx, MIGRATE_PROGRESS_PATH, { vmInstanceUuid });
  let last = 0;
  // never backwards: the RAM phase's first poll may say less than the disks did
  return (percent) => {
    last = Math.max(last, Math.floor(percent));
    report(last, 100);
  };
}
