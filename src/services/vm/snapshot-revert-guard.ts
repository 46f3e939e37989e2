import { SnapshotLifecyclePoint } from '../../contracts/volume-snapshot.ts';
import { VmErrors } from '../../contracts/vm.ts';
import { StratoError } from '../../core/errors/index.ts';
import type { NodeContext } from '../../core/node-context.ts';

/**
 * A volume on a VM is reverted to a snapshot only while that VM is Stopped (ZStack's
 * VolumeSnapshotBase: the hypervisor holds the disk open otherwise); a volume on no VM always may be.
 */
export function registerSnapshotRevertGuard(ctx: NodeContext): void {
  ctx.extensions.registerObserver(SnapshotLifecyclePoint, {
    async preRevert(snapshot, volume) {
      if (!volume.vmInstanceUuid) return;
      const vm = await ctx.db.selectFrom('vm_instance').select('state').where('uuid', '=', volume.vmInstanceUuid).executeTakeFirst();
      if (!vm || vm.state === 'Stopped') return;
      throw new StratoError(VmErrors.NOT_IN_CORRECT_STATE, `unable to revert volume ${volume.uuid} to snapshot ${snapshot.uuid}: its VM ${volume.vmInstanceUuid} is ${String(vm.state)}, it must be Stopped`);
    },
  }, { by: 'vm' });
}
