import { EipBackendPoint, type EipOnNic } from '../../contracts/eip.ts';
import { FlatEipAgentPaths, type EipTO } from '../../contracts/eip-agent.ts';
import { VmLifecyclePoint, VmNetworkFollowerPoint, type VmNicsOnHost } from '../../contracts/vm.ts';
import { defaultLogger } from '../../core/flow/logger.ts';
import type { NodeContext, ServiceModule } from '../../core/node-context.ts';
import { eipsOfNics, eipTO, nicRow, type EipNic } from './eip-views.ts';
import { isNotConnected, sendToHost } from './host-agent.ts';

export { simulatorFlatEipPlugin, eipsOf, nicQosOf } from './simulator-commands.ts';

const log = defaultLogger('strato.flat-eip');
/** VM states whose NICs are on their host: an EIP change is realized there at once. */
const ON_HOST = ['Running', 'Paused'];
/**
 * VM states on the way to a host (or to Paused/Running on it): its NICs' EIPs were applied by
 * `beforeNicsOnHost` already and a change now is not sent, so it is settled once the VM runs (`pending`).
 */
const ARRIVING = ['Starting', 'Migrating', 'Rebooting', 'Pausing', 'Resuming', 'Unknown'];

/**
 * EIPs realized on the host where the VM runs, the flat network provider's way (src/agent/network/
 * eip.ts does the host side; docs/decisions.md "EIPs on KVM hosts"):
 * - a VM's NICs arrive on a host (create, start, migrate target, attach-NIC): their enabled EIPs are
 *   applied there before the agent starts the VM; a failure fails the operation (its rollback removes them);
 * - they leave (stop, destroy, migrate source, detach, rollback): removed there;
 * - an EIP attached, detached, enabled, disabled or deleted while its VM runs: applied/removed at once;
 *   while it starts or migrates: settled on its host (and the one it came from) once it runs;
 * - a host (re)connects: `batchapply` with `sync` sends its whole set, and stale EIPs vanish.
 */
export const flatEipPlugin: ServiceModule = {
  id: 'flat-eip',
  setup(ctx) {
    /**
     * VMs whose EIPs changed (attached, enabled, detached, disabled, deleted) while they were on the way
     * to a host: once Running, their enabled EIPs are applied on their host and the EIPs that left them
     * removed there and from the host they came from (in this node's memory: a reconnect's sync settles
     * the rest).
     */
    const pending = new Map<string, Set<string>>();
    const remember = async (e: EipOnNic) => {
      const nic = await nicRow(ctx.db, e.vmNicUuid);
      const vm = nic && (await ctx.db.selectFrom('vm_instance').select('state').where('uuid', '=', nic.vmInstanceUuid).executeTakeFirst());
      if (!nic || !vm || !ARRIVING.includes(vm.state as string)) return;
      pending.set(nic.vmInstanceUuid, (pending.get(nic.vmInstanceUuid) ?? new Set()).add(e.eipUuid));
    };
    ctx.extensions.registerObserver(VmLifecyclePoint, {
      async afterStateChange(vm, previous) {
        const eipUuids = pending.get(vm.uuid);
        if (!eipUuids || ON_HOST.includes(previous) || !ON_HOST.includes(vm.state) || !vm.hostUuid) return;
        pending.delete(vm.uuid);
        const nics = await ctx.db.selectFrom('vm_nic').select('uuid').where('vmInstanceUuid', '=', vm.uuid).execute();
        const eips = await commandsFor(ctx, nics.map((n) => ({ uuid: n.uuid as string })), { skipBroken: true });
        const gone = [...eipUuids].filter((u) => !eips.some((e) => e.eipUuid === u));
        for (const h of new Set([vm.hostUuid, vm.lastHostUuid].filter((x): x is string => !!x))) {
          if (gone.length) await removeOn(ctx, h, gone).catch((err: unknown) => log.error({ err, hostUuid: h, gone }, 'could not remove EIPs that left a VM while it was arriving'));
        }
        if (eips.length) await sendToHost(ctx, vm.hostUuid, FlatEipAgentPaths.batchApply, { eips }).catch((err: unknown) => log.error({ err, vmUuid: vm.uuid }, 'could not apply EIPs changed while their VM was arriving'));
      },
    }, { by: 'flat-eip' });
    ctx.extensions.registerObserver(VmNetworkFollowerPoint, {
      async beforeNicsOnHost(p: VmNicsOnHost) {
        const eips = await commandsFor(ctx, p.nics);
        if (eips.length) await sendToHost(ctx, p.hostUuid, FlatEipAgentPaths.batchApply, { eips });
      },
      async nicsLeftHost(p: VmNicsOnHost) {
        const eips = await eipsOfNics(ctx.db, p.nics.map((n) => n.uuid));
        if (!eips.length) return;
        await removeOn(ctx, p.hostUuid, eips.map((e) => e.uuid));
        // a migration's source is cleared once the VM runs on the target: applying there again makes the
        // target announce the VIP, so the public network stops sending it to the source
        const vm = await ctx.db.selectFrom('vm_instance').select(['hostUuid', 'state']).where('uuid', '=', p.vm.uuid).executeTakeFirst();
        if (vm?.hostUuid && vm.hostUuid !== p.hostUuid && ON_HOST.includes(vm.state as string)) {
          await sendToHost(ctx, vm.hostUuid as string, FlatEipAgentPaths.batchApply, { eips: await commandsFor(ctx, p.nics, { skipBroken: true }) });
        }
      },
      async hostConnected(hostUuid, vms, stillOnHost) {
        try {
          // from the VMs still there once in the host's queue: a VM that left since `vms` was read must not get its VIP back here
          const batch = async () => ({ eips: await commandsFor(ctx, (await stillOnHost(vms)).flatMap((v) => v.nics), { skipBroken: true }), sync: true });
          await sendToHost(ctx, hostUuid, FlatEipAgentPaths.batchApply, batch, { connecting: true });
        } catch (err) {
          // the host connects all the same: a broken EIP must not keep its other VMs from being managed
          log.error({ err, hostUuid }, 'could not sync the EIPs of a reconnected host');
        }
      },
    }, { order: 60, by: 'flat-eip' });

    ctx.extensions.registerObserver(EipBackendPoint, {
      async afterAttached(e: EipOnNic) {
        const where = await hostOfNic(ctx, e.vmNicUuid);
        if (!where) return remember(e); // stopped: its next start applies it; arriving: applied once it runs
        const eip = (await eipsOfNics(ctx.db, [e.vmNicUuid])).find((x) => x.uuid === e.eipUuid);
        if (eip) await sendToHost(ctx, where.hostUuid, FlatEipAgentPaths.batchApply, { eips: [await eipTO(ctx.db, eip, where.nic)] });
      },
      async beforeDetached(e: EipOnNic) {
        const where = await hostOfNic(ctx, e.vmNicUuid);
        if (where) await removeOn(ctx, where.hostUuid, [e.eipUuid]);
        else await remember(e);
      },
    }, { by: 'flat-eip' });
  },
};

async function commandsFor(ctx: NodeContext, nics: readonly Pick<EipNic, 'uuid'>[], opts: { skipBroken?: boolean } = {}): Promise<EipTO[]> {
  const out: EipTO[] = [];
  for (const eip of await eipsOfNics(ctx.db, nics.map((n) => n.uuid))) {
    const nic = await nicRow(ctx.db, eip.vmNicUuid);
    if (!nic) continue;
    try {
      out.push(await eipTO(ctx.db, eip, nic));
    } catch (err) {
      if (!opts.skipBroken) throw err;
      log.error({ err, eipUuid: eip.uuid }, 'an EIP cannot be realized; left out');
    }
  }
  return out;
}

async function removeOn(ctx: NodeContext, hostUuid: string, eipUuids: string[]): Promise<void> {
  await sendToHost(ctx, hostUuid, FlatEipAgentPaths.batchDelete, { eips: eipUuids.map((eipUuid) => ({ eipUuid })) }).catch((e: unknown) => {
    if (!isNotConnected(e)) throw e; // an away host drops it at its reconnect's sync
  });
}

async function hostOfNic(ctx: NodeContext, nicUuid: string): Promise<{ hostUuid: string; nic: EipNic } | undefined> {
  const nic = await nicRow(ctx.db, nicUuid);
  if (!nic) return undefined;
  const vm = await ctx.db.selectFrom('vm_instance').select(['hostUuid', 'state']).where('uuid', '=', nic.vmInstanceUuid).executeTakeFirst();
  return vm?.hostUuid && ON_HOST.includes(vm.state as string) ? { hostUuid: vm.hostUuid as string, nic } : undefined;
}
