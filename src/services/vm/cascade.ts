import { VmAgentPaths, VmMessages, VM_SERVICE } from '../../contracts/vm.ts';
import type { CascadeEntry } from '../../core/cascade/index.ts';
import type { Message } from '../../core/bus/index.ts';
import { StratoError } from '../../core/errors/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { findRow } from '../../core/resource/resource-store.ts';
import { vmQueueOf } from './create-handler.ts';
import { expungeVm, markVmStopped, releaseVmHost } from './expunge.ts';
import { VmInstanceInventory } from './schema.ts';
import { callHostAgent } from './vm-agent.ts';
import { changeVmState, loadVm } from './vm-store.ts';

/**
 * VMs hang under hosts (and so clusters and zones), as in ZStack's VmCascadeExtension: deleting a host
 * or a cluster stops the VMs on it (and in it); deleting a zone removes its VMs (their volumes go
 * with the primary storages). Each VM is handled by a message to its owner, in its queue.
 */
export function vmCascadeEntry(ctx: NodeContext): CascadeEntry {
  const { db, bus } = ctx;
  return {
    resource: 'VmInstanceVO',
    parents: ['HostVO'],
    async children(_parent, hostUuids, c) {
      const uuids = new Set((await db.selectFrom('vm_instance').select('uuid').where('hostUuid', 'in', hostUuids).execute()).map((r) => r.uuid as string));
      const root = c.root;
      const column = root.resource === 'ClusterVO' ? 'clusterUuid' : root.resource === 'ZoneVO' ? 'zoneUuid' : undefined;
      if (column) for (const r of await db.selectFrom('vm_instance').select('uuid').where(column, 'in', [...root.uuids]).execute()) uuids.add(r.uuid as string);
      return [...uuids];
    },
    async delete(uuids, { force, ctx: c }) {
      const mode = c.root.resource === 'ZoneVO' ? 'expunge' : 'stop';
      const results = await Promise.all(uuids.map((uuid) => bus.send(VM_SERVICE, VmMessages.cascade, { uuid, mode, force }, { resourceUuid: uuid })));
      const failed = results.find((r) => !r.success);
      if (failed && !failed.success && !force) throw new StratoError(failed.error);
    },
  };
}

/** The VM side of the cascade: stop without the agent (the host is going), or off the host and expunged. */
export function cascadeHandler(ctx: NodeContext) {
  const { db, extensions, agents, bus } = ctx;
  return {
    async [VmMessages.cascade](msg: Message<{ uuid: string; mode: 'stop' | 'expunge'; force?: boolean }>) {
      const { uuid, mode, force } = msg.body;
      return ctx.queues.submit(vmQueueOf(uuid), async () => {
        if (!(await findRow(db, VmInstanceInventory, uuid))) return {};
        let vm = await loadVm(db, uuid);
        if (mode === 'stop') {
          if (vm.hostUuid) await markVmStopped(ctx, vm);
          return {};
        }
        if (vm.hostUuid) {
          await callHostAgent({ db, extensions, agents }, vm.hostUuid, VmAgentPaths.destroy, { vmInstanceUuid: uuid }).catch(() => undefined);
          await releaseVmHost(bus, vm);
        }
        vm = await changeVmState(ctx, vm, 'Destroyed', { hostUuid: null });
        await expungeVm(ctx, vm, { force: force ?? true });
        return {};
      });
    },
  };
}
