import { AgentCommandPoint, REPORT_VM_STATE_PATH, VmMessages, VM_SERVICE } from '../../contracts/vm.ts';
import { serviceFromHandlers } from '../../core/bus/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { NodeContext, ServiceModule } from '../../core/node-context.ts';
import { vmApis } from './apis.ts';
import { cascadeHandler, vmCascadeEntry } from './cascade.ts';
import { VmExpungeTimer } from './expunge-timer.ts';
import { registerHostMaintenance } from './host-maintenance.ts';
import { vmQueryIndexesMigration } from './query-indexes.ts';
import { registerVmSync } from './vm-sync.ts';
import { registerNetworkFollow } from './network-follow.ts';
import { createVmHandler } from './create-handler.ts';
import { createVmChain } from './flows/create-vm-chain.ts';
import { migrateVmChain } from './flows/migrate-vm-chain.ts';
import { startVmChain } from './flows/start-vm-chain.ts';
import { lifecycleHandlers } from './lifecycle-handlers.ts';
import { migrateHandler } from './migrate-handler.ts';
import { attachNicChain } from './flows/attach-nic-chain.ts';
import { vmNicCascadeEntry } from './nic-cascade.ts';
import { nicHandlers } from './nic-handlers.ts';
import { reportStateHandler } from './report-state.ts';
import { attachVolumeChain } from './flows/attach-volume-chain.ts';
import { registerSnapshotRevertGuard } from './snapshot-revert-guard.ts';
import { volumeAttachHandlers } from './volume-attach-handlers.ts';
import { VmInstanceInventory, VmNicInventory, vmMigration } from './schema.ts';

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV4 = /^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** One expunge timer per node (several nodes may share a process in tests). */
const expungeTimers = new WeakMap<NodeContext, VmExpungeTimer>();

/** VM instances: create (a journaled chain), lifecycle in each VM's queue, state reported by hosts, cascade under hosts. */
export const vmService: ServiceModule = {
  id: 'vm',
  migrations: [vmMigration, vmQueryIndexesMigration],
  inventories: [VmInstanceInventory, VmNicInventory],
  apis: vmApis,
  setup(ctx) {
    const deletionPolicy = ctx.config.define({ category: 'vm', name: 'deletionPolicy', type: 'string', defaultValue: 'Delay', validValues: ['Direct', 'Delay', 'Never'], description: "the behavior of deleting a vm: Direct deletes the vm and its root volume; Delay changes the vm's state to Destroyed (recoverable until expunged); Never deletes the vm but never its root volume" });
    ctx.systemTags.define({ pattern: 'hostname::{hostname}', resourceType: 'VmInstanceVO', validate: (t) => {
      if (!HOSTNAME.test(t.hostname)) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `hostname[${t.hostname}] is not a valid host name (RFC 1123)`);
    } });
    const staticIpTag = ctx.systemTags.define({ pattern: 'staticIp::{l3NetworkUuid}::{ip}', resourceType: 'VmInstanceVO', validate: (t) => {
      if (!/^[0-9a-f]{32}$/.test(t.l3NetworkUuid)) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `staticIp: ${t.l3NetworkUuid} is not an L3 network uuid`);
      if (!IPV4.test(t.ip)) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `staticIp: ${t.ip} is not an IPv4 address`);
    } });
    const flowDeps = { extensions: ctx.extensions, agents: ctx.agents };
    const chain = createVmChain(flowDeps);
    const startChain = startVmChain(flowDeps);
    ctx.flows.registerChain(chain);
    ctx.flows.registerChain(startChain);
    const migrateChain = migrateVmChain(flowDeps);
    ctx.flows.registerChain(migrateChain);
    ctx.cascade.register(vmCascadeEntry(ctx));
    const attachChain = attachNicChain(flowDeps);
    ctx.flows.registerChain(attachChain);
    const attachVolume = attachVolumeChain(flowDeps);
    ctx.flows.registerChain(attachVolume);
    registerSnapshotRevertGuard(ctx);
    registerNetworkFollow(ctx);
    ctx.cascade.register(vmNicCascadeEntry(ctx));
    ctx.extensions.registerStrategy(AgentCommandPoint, REPORT_VM_STATE_PATH, {
      handle: (body) => ctx.bus.call(VM_SERVICE, VmMessages.reportState, body, { resourceUuid: String(body.vmUuid ?? '') }),
    }, { by: 'vm' });
    registerHostMaintenance(ctx);
    registerVmSync(ctx);
    const expungePeriod = ctx.config.define({ category: 'vm', name: 'expungePeriod', type: 'number', defaultValue: 604800, min: 1, description: 'the period before a destroyed vm being deleted from database and before its root volume being deleted from primary storage, in seconds' });
    const expungeInterval = ctx.config.define({ category: 'vm', name: 'expungeInterval', type: 'number', defaultValue: 3600, min: 1, description: 'the interval the expunging vm task runs, in seconds' });
    expungeTimers.set(ctx, new VmExpungeTimer(ctx, expungePeriod, expungeInterval));
    ctx.bus.registerService(serviceFromHandlers(VM_SERVICE, {
      CreateVmInstance: createVmHandler(ctx, { chain, staticIpTag }),
      ...lifecycleHandlers(ctx, { startChain, deletionPolicy }),
      ...reportStateHandler(ctx),
      ...cascadeHandler(ctx),
      ...migrateHandler(ctx, { migrateChain }),
      ...nicHandlers(ctx, { attachChain }),
      ...volumeAttachHandlers(ctx, { attachChain: attachVolume }),
    }));
  },
  start(ctx) {
    expungeTimers.get(ctx)?.start();
  },
  async stop(ctx) {
    await expungeTimers.get(ctx)?.stop();
  },
};
