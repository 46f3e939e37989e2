import { VmNicMessages } from '../../contracts/vm-nic.ts';
import { VM_SERVICE } from '../../contracts/vm.ts';
import type { CascadeEntry } from '../../core/cascade/index.ts';
import { StratoError } from '../../core/errors/index.ts';
import type { NodeContext } from '../../core/node-context.ts';

/**
 * NICs hang under their L3 network (ZStack's VmNicCascadeExtension): deleting an L3 network detaches
 * its NICs from their VMs first (unplugged when running, IPs given back, the default L3 moved). Each
 * detach is a message to the VM's owner, in the VM's queue.
 */
export function vmNicCascadeEntry(ctx: NodeContext): CascadeEntry {
  const { db, bus } = ctx;
  return {
    resource: 'VmNicVO',
    parents: ['L3NetworkVO'],
    async children(_parent, l3Uuids) {
      return (await db.selectFrom('vm_nic').select('uuid').where('l3NetworkUuid', 'in', l3Uuids).execute()).map((r) => r.uuid as string);
    },
    async delete(uuids, { force }) {
      const nics = await db.selectFrom('vm_nic').select(['uuid', 'vmInstanceUuid']).where('uuid', 'in', uuids).execute();
      const results = await Promise.all(nics.map((n) => bus.send(VM_SERVICE, VmNicMessages.detachNic, { vmNicUuid: n.uuid, cascade: true }, { resourceUuid: n.vmInstanceUuid as string })));
      const failed = results.find((r) => !r.success);
      if (failed && !failed.success && !force) throw new StratoError(failed.error);
    },
  };
}
