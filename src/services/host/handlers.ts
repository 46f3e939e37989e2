import { HostErrors, HostEvents, HostLifecyclePoint, HostMessages, HypervisorFactoryPoint, type AddHostCtx, type CapacityRequest, type ConnectHostCtx, type HostInventoryView, type HostState, type HostStatus } from '../../contracts/host.ts';
import type { ApiParams } from '../../core/api/define-api.ts';
import type { Message } from '../../core/bus/index.ts';
import type { ConfigHandle } from '../../core/config/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { FlowChain } from '../../core/flow/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { findRow, loadInventory, patchRow } from '../../core/resource/resource-store.ts';
import { newUuid } from '../../core/util/uuid.ts';
import type { AddKVMHost, AddSimulatorHost, ChangeHostState, DeleteHost, ReconnectHost, UpdateHost } from './apis.ts';
import { releaseCapacity, reserveCapacity } from './capacity.ts';
import { HostInventory } from './schema.ts';

export const hostQueueOf = (uuid: string) => `host-${uuid}`;

export interface HostHandlerDeps {
  chains: { connect: FlowChain<ConnectHostCtx>; add: FlowChain<AddHostCtx> };
  memoryOverProvisioningRatio: ConfigHandle<number>;
}

type AddParams = ApiParams<typeof AddSimulatorHost> | ApiParams<typeof AddKVMHost>;

export function hostHandlers(ctx: NodeContext, deps: HostHandlerDeps) {
  const { db, queues, extensions, cascade, tags, bus, flowEngine } = ctx;
  const load = (uuid: string) => loadInventory(db, HostInventory, uuid) as Promise<HostInventoryView & Record<string, unknown>>;

  /** Writes a new connection status; observers and every node hear of a change. */
  async function setStatus(uuid: string, status: HostStatus, reason?: string): Promise<void> {
    const before = await db.selectFrom('host').select('status').where('uuid', '=', uuid).executeTakeFirst();
    if (!before || before.status === status) return;
    await db.updateTable('host').set({ status, lastOpDate: Date.now() }).where('uuid', '=', uuid).execute();
    await announce(uuid, before.status as HostStatus, status, reason);
  }

  async function announce(uuid: string, previous: HostStatus, status: HostStatus, reason?: string): Promise<void> {
    if (previous === status) return;
    const host = await findRow(db, HostInventory, uuid);
    if (!host) return;
    if (status === 'Disconnected') ctx.log.warn({ host: uuid, reason }, 'host disconnected');
    await extensions.callSafe(HostLifecyclePoint, 'afterStatusChange', host as unknown as HostInventoryView, previous);
    void bus.publish(HostEvents.statusChanged, { hostUuid: uuid, previous, status, reason });
  }

  async function addHost(hypervisorType: string, p: AddParams, hypervisorParams: Record<string, unknown>) {
    // As ZStack's API interceptor does: an unknown cluster first, then a hypervisor nobody implements (SYS.1013).
    if (!(await db.selectFrom('cluster').select('uuid').where('uuid', '=', p.clusterUuid).executeTakeFirst())) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find Cluster[uuid:${p.clusterUuid}]`);
    extensions.strategy(HypervisorFactoryPoint, hypervisorType);
    const uuid = p.resourceUuid ?? newUuid();
    if (p.resourceUuid && (await findRow(db, HostInventory, uuid))) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `a host with uuid ${uuid} already exists`);
    const flowCtx: AddHostCtx = { uuid, newAdded: true, hypervisorParams, name: p.name, description: p.description, managementIp: p.managementIp, clusterUuid: p.clusterUuid, hypervisorType, systemTags: p.systemTags, userTags: p.userTags };
    await queues.submit(hostQueueOf(uuid), () => flowEngine.run(deps.chains.add, flowCtx, { resourceUuid: uuid }));
    const host = await load(uuid);
    await announce(uuid, 'Connecting', 'Connected');
    await extensions.callSafe(HostLifecyclePoint, 'afterAdd', host);
    return host;
  }

  /** The connect chain on an existing host; a failure leaves it Disconnected and is rethrown. */
  async function reconnect(uuid: string) {
    return queues.submit(hostQueueOf(uuid), async () => {
      const host = await load(uuid);
      await db.updateTable('host').set({ status: 'Connecting' }).where('uuid', '=', uuid).execute();
      try {
        await flowEngine.run(deps.chains.connect, { uuid, newAdded: false }, { resourceUuid: uuid });
      } catch (e) {
        await db.updateTable('host').set({ status: 'Disconnected', lastOpDate: Date.now() }).where('uuid', '=', uuid).execute();
        await announce(uuid, host.status, 'Disconnected', e instanceof Error ? e.message : String(e));
        throw e;
      }
      await announce(uuid, host.status, 'Connected');
      return load(uuid);
    });
  }

  async function changeState(uuid: string, event: 'enable' | 'disable' | 'maintain') {
    return queues.submit(hostQueueOf(uuid), async () => {
      const host = await load(uuid);
      const previous = host.state;
      if (previous === 'PreMaintenance') throw new StratoError(HostErrors.INVALID_STATE_TRANSITION, `host ${uuid} is entering maintenance`);
      await extensions.callVeto(HostLifecyclePoint, 'preChangeState', host, event);
      let next: HostState = event === 'enable' ? 'Enabled' : event === 'disable' ? 'Disabled' : 'Maintenance';
      if (event === 'maintain' && previous !== 'Maintenance') {
        const pre = await patchRow(db, HostInventory, uuid, { state: 'PreMaintenance' });
        try {
          // Where the VM service will migrate or stop the host's VMs; a host without VMs goes straight on.
          await extensions.callVeto(HostLifecyclePoint, 'enteringMaintenance', pre as HostInventoryView);
        } catch (e) {
          await patchRow(db, HostInventory, uuid, { state: previous });
          throw e;
        }
        next = 'Maintenance';
      }
      const after = await patchRow(db, HostInventory, uuid, { state: next });
      if (previous !== next) await extensions.callSafe(HostLifecyclePoint, 'afterChangeState', after as HostInventoryView, previous);
      return after;
    });
  }

  return {
    setStatus,

    AddSimulatorHost: (msg: Message<ApiParams<typeof AddSimulatorHost>>) => addHost('Simulator', msg.body, { cpuCapacity: msg.body.cpuCapacity, memoryCapacity: msg.body.memoryCapacity }),

    AddKVMHost: (msg: Message<ApiParams<typeof AddKVMHost>>) => addHost('KVM', msg.body, { username: msg.body.username, password: msg.body.password, sshPrivateKey: msg.body.sshPrivateKey, sshPort: msg.body.sshPort ?? 22 }),

    async UpdateHost(msg: Message<ApiParams<typeof UpdateHost>>) {
      const p = msg.body;
      return queues.submit(hostQueueOf(p.uuid), async () => {
        await load(p.uuid);
        if (p.managementIp) {
          const taken = await db.selectFrom('host').select('uuid').where('managementIp', '=', p.managementIp).where('uuid', '!=', p.uuid).executeTakeFirst();
          if (taken) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `there has been a host having managementIp ${p.managementIp}`);
        }
        return patchRow(db, HostInventory, p.uuid, { name: p.name, description: p.description, managementIp: p.managementIp });
      });
    },

    ChangeHostState: (msg: Message<ApiParams<typeof ChangeHostState>>) => changeState(msg.body.uuid, msg.body.stateEvent),

    ReconnectHost: (msg: Message<ApiParams<typeof ReconnectHost>>) => reconnect(msg.body.uuid),

    async DeleteHost(msg: Message<ApiParams<typeof DeleteHost>>) {
      const p = msg.body;
      // Not in the host's queue: the cascade's host.Delete runs there.
      if (!(await findRow(db, HostInventory, p.uuid))) return {};
      const mode = p.deleteMode ?? 'Permissive';
      const result = await cascade.delete({ resource: 'HostVO', uuids: [p.uuid], mode });
      if (result.errors.length && mode === 'Permissive') throw new StratoError(SysErrors.DELETE_RESOURCE_ERROR, `failed to delete host ${p.uuid}`, { cause: result.errors[0].error });
      return {};
    },

    async [HostMessages.reconnect](msg: Message<{ uuid: string }>) {
      await reconnect(msg.body.uuid);
      return {};
    },

    async [HostMessages.delete](msg: Message<{ uuid: string }>) {
      return queues.submit(hostQueueOf(msg.body.uuid), async () => {
        const row = await findRow(db, HostInventory, msg.body.uuid);
        if (!row) return {};
        await db.deleteFrom('host').where('uuid', '=', msg.body.uuid).execute();
        await tags.deleteForResources([msg.body.uuid]);
        await extensions.findStrategy(HypervisorFactoryPoint, row.hypervisorType as string)?.cleanup(msg.body.uuid);
        await extensions.callSafe(HostLifecyclePoint, 'afterDelete', row as unknown as HostInventoryView);
        return {};
      });
    },

    async [HostMessages.reserveCapacity](msg: Message<CapacityRequest>) {
      await reserveCapacity(db, msg.body, deps.memoryOverProvisioningRatio.get());
      return {};
    },

    async [HostMessages.releaseCapacity](msg: Message<CapacityRequest>) {
      await releaseCapacity(db, msg.body, deps.memoryOverProvisioningRatio.get());
      return {};
    },
  };
}
