import { HostLifecyclePoint, type HostInventoryView } from '../../contracts/host.ts';
import { VM_SERVICE, VmErrors } from '../../contracts/vm.ts';
import { StratoError, toErrorCode } from '../../core/errors/index.ts';
import type { NodeContext } from '../../core/node-context.ts';

/** How many VMs leave a host at once: enough to drain a host quickly, few enough not to flood the allocator and the agents. */
const PARALLEL_MOVES = 4;

/**
 * ZStack's host maintenance for VMs: when a host enters Maintenance, each VM on it is migrated to a
 * host the allocator picks (MigrateVm, in the VM's queue); a VM that cannot be migrated is stopped.
 * A VM that can be neither migrated nor stopped vetoes: the host goes back to its previous state.
 */
export function registerHostMaintenance(ctx: NodeContext): void {
  ctx.extensions.registerObserver(HostLifecyclePoint, {
    enteringMaintenance: (host) => evacuateHost(ctx, host),
  }, { by: 'vm' });
}

/** Moves every VM off `host` (migrate, else stop); throws listing the VMs that are still there. */
export async function evacuateHost(ctx: NodeContext, host: HostInventoryView): Promise<void> {
  const { db, bus, log } = ctx;
  const rows = await db.selectFrom('vm_instance').select('uuid').where('hostUuid', '=', host.uuid).orderBy('uuid').execute();
  const pending = rows.map((r) => r.uuid as string);
  const stuck: { uuid: string; reason: string }[] = [];

  const stillHere = async (uuid: string) => {
    const row = await db.selectFrom('vm_instance').select('hostUuid').where('uuid', '=', uuid).executeTakeFirst();
    return row?.hostUuid === host.uuid;
  };

  const moveOne = async (uuid: string) => {
    const migrated = await bus.send(VM_SERVICE, 'MigrateVm', { uuid }, { resourceUuid: uuid });
    // The VM may have been stopped or destroyed meanwhile (MigrateVm then says VM.1010): gone is gone.
    if (!(await stillHere(uuid))) return;
    const stopped = await bus.send(VM_SERVICE, 'StopVmInstance', { uuid, type: 'grace' }, { resourceUuid: uuid });
    if (stopped.success && !(await stillHere(uuid))) {
      log.info({ host: host.uuid, vm: uuid, migrateError: migrated.success ? undefined : migrated.error.details }, 'host maintenance: VM could not be migrated and was stopped');
      return;
    }
    const why = [migrated.success ? undefined : `migrate: ${migrated.error.details ?? migrated.error.description}`, stopped.success ? 'stop: the VM is still on the host' : `stop: ${stopped.error.details ?? stopped.error.description}`];
    stuck.push({ uuid, reason: why.filter(Boolean).join('; ') });
  };

  const workers = Array.from({ length: Math.min(PARALLEL_MOVES, pending.length) }, async () => {
    for (let uuid = pending.shift(); uuid; uuid = pending.shift()) {
      try {
        await moveOne(uuid);
      } catch (e) {
        stuck.push({ uuid, reason: toErrorCode(e).details ?? String(e) });
      }
    }
  });
  await Promise.all(workers);
  if (stuck.length) {
    throw new StratoError(VmErrors.STOP_ERROR, `host ${host.uuid} cannot enter maintenance: ${stuck.map((s) => `VM ${s.uuid} (${s.reason})`).join(', ')}`);
  }
}
