import { VmNicAgentPaths, VmNicLifecyclePoint } from '../../contracts/vm-nic.ts';
import { VmAgentPaths, VmCommandDecoratorPoint, VmLifecyclePoint, VmNetworkFollowerPoint, type VmInstanceView } from '../../contracts/vm.ts';
import { NicQosAgentPaths } from '../../contracts/nic-qos.ts';
import { serviceFromHandlers } from '../../core/bus/index.ts';
import { defaultLogger } from '../../core/flow/logger.ts';
import type { NodeContext, ServiceModule } from '../../core/node-context.ts';
import { nicQosApis } from './apis.ts';
import { LIVE_STATES, nicQosHandlers, qosOf, setCommand } from './handlers.ts';
import { callHost } from './host-agent.ts';
import { nicQosMigration } from './schema.ts';

const log = defaultLogger('strato.nic-qos');

type NicTO = { uuid?: string } & Record<string, unknown>;

/**
 * NIC bandwidth limits (ZStack's SetNicQos/GetNicQos/DeleteNicQos): stored per NIC; sent live to the
 * host of a running VM (`/vm/setnicqos`), carried by every `/vm/start` and `/vm/attachnic` NIC (the
 * agent limits the tap before QEMU uses it; a migration's destination starts from the VM's spec, which
 * keeps them), and re-sent to a host that reconnects. A change made while the VM is starting or
 * migrating is sent to its host once it is Running there (pending NICs are in this node's memory: a
 * node restart in between loses that send; the next start or SetNicQos carries the limits again).
 */
export const nicQosService: ServiceModule = {
  id: 'nic-qos',
  migrations: [nicQosMigration],
  apis: nicQosApis,
  setup(ctx) {
    /** NICs whose limits changed while their VM was starting or migrating (sent when it runs). */
    const pending = new Set<string>();
    ctx.bus.registerService(serviceFromHandlers('nic-qos', nicQosHandlers(ctx, pending)));
    ctx.extensions.registerObserver(VmLifecyclePoint, {
      async afterStateChange(vm, previous) {
        if (LIVE_STATES.includes(previous) || !LIVE_STATES.includes(vm.state) || !vm.hostUuid || pending.size === 0) return;
        await applyPending(ctx, vm as VmInstanceView & { hostUuid: string }, pending);
      },
    }, { by: 'nic-qos' });
    ctx.extensions.registerObserver(VmCommandDecoratorPoint, { decorate: (path, cmd) => withQos(ctx, path, cmd) }, { order: 80, by: 'nic-qos' });
    ctx.extensions.registerObserver(VmNetworkFollowerPoint, {
      async hostConnected(hostUuid, vms, stillOnHost) {
        const nics = (await stillOnHost(vms)).filter((v) => v.vm.state === 'Running' || v.vm.state === 'Paused').flatMap((v) => v.nics);
        const qos = await qosOf(ctx.db, nics.map((n) => n.uuid));
        for (const nic of nics.filter((n) => qos.has(n.uuid))) {
          // a NIC that cannot be limited must not keep its host from connecting: logged, tried again at the next connect
          await callHost(ctx, hostUuid, NicQosAgentPaths.set, { ...setCommand(nic, qos.get(nic.uuid)!) }, { connecting: true })
            .catch((err: unknown) => log.error({ err, hostUuid, vmNicUuid: nic.uuid }, 'could not re-apply a NIC\'s bandwidth limits on a reconnected host'));
        }
      },
    }, { order: 80, by: 'nic-qos' });
    ctx.extensions.registerObserver(VmNicLifecyclePoint, {
      async beforeNicsDeleted(nics) {
        if (nics.length) await ctx.db.deleteFrom('vm_nic_qos').where('vmNicUuid', 'in', nics.map((n) => n.uuid)).execute();
      },
    }, { by: 'nic-qos' });
  },
};

/** `/vm/start` NICs and `/vm/attachnic`'s NIC get their limits (fields of contracts/nic-qos.ts NicQosFields). */
async function withQos(ctx: NodeContext, path: string, cmd: Record<string, unknown>): Promise<Record<string, unknown>> {
  if (path === VmAgentPaths.start && Array.isArray(cmd.nics)) {
    const nics = cmd.nics as NicTO[];
    const qos = await qosOf(ctx.db, nics.map((n) => String(n.uuid)));
    if (qos.size === 0) return cmd;
    return { ...cmd, nics: nics.map((n) => ({ ...n, ...(qos.get(String(n.uuid)) ?? {}) })) };
  }
  if (path === VmNicAgentPaths.attachNic && cmd.nic && typeof cmd.nic === 'object') {
    const nic = cmd.nic as NicTO;
    const q = (await qosOf(ctx.db, [String(nic.uuid)])).get(String(nic.uuid));
    return q ? { ...cmd, nic: { ...nic, ...q } } : cmd;
  }
  return cmd;
}

/** The stored limits (nulls included) of the VM's pending NICs, sent to the host it now runs on; errors logged. */
async function applyPending(ctx: NodeContext, vm: VmInstanceView & { hostUuid: string }, pending: Set<string>): Promise<void> {
  const nics = await ctx.db.selectFrom('vm_nic').select(['uuid', 'vmInstanceUuid', 'internalName']).where('vmInstanceUuid', '=', vm.uuid).execute();
  const mine = nics.filter((n) => pending.has(n.uuid as string)) as Array<{ uuid: string; vmInstanceUuid: string; internalName: string }>;
  if (mine.length === 0) return;
  const qos = await qosOf(ctx.db, mine.map((n) => n.uuid));
  for (const nic of mine) {
    pending.delete(nic.uuid);
    const q = qos.get(nic.uuid) ?? { inboundBandwidth: null, outboundBandwidth: null };
    await callHost(ctx, vm.hostUuid, NicQosAgentPaths.set, { ...setCommand(nic, q) })
      .catch((err: unknown) => log.error({ err, vmUuid: vm.uuid, vmNicUuid: nic.uuid }, 'could not apply a NIC\'s limits changed while its VM was starting or migrating; ignored'));
  }
}
