import type { Kysely } from 'kysely';
import { AfterHostConnected, type ConnectHostCtx } from '../../contracts/host.ts';
import { VmNetworkFollowerPoint, type CreateVmCtx, type MigrateVmStepCtx, type StartVmStepCtx, type StillOnHost, type VmInstanceView, type VmNicsOnHost, type VmNicView } from '../../contracts/vm.ts';
import type { AttachNicCtx } from '../../contracts/vm-nic.ts';
import { noRollback, type FlowStep } from '../../core/flow/index.ts';
import { defaultLogger } from '../../core/flow/logger.ts';
import type { NodeContext } from '../../core/node-context.ts';
import type { ExtensionRegistry } from '../../core/plugin/index.ts';
import { loadVm } from './vm-store.ts';

/**
 * The VM side of `VmNetworkFollowerPoint` (contracts/vm.ts): a step in each chain that puts NICs on a
 * host (create, start, migrate, attach-NIC; right before the agent is told) calls the followers' `beforeNicsOnHost` and, on rollback,
 * their `nicsLeftHost`; `changeVmState` reports a VM leaving its host; the host connect chain gets a
 * step replaying the host's VMs. Followers are network plugins (VXLAN, flat DHCP, security groups…).
 */

const leftLog = defaultLogger('strato.vm.networks');

const toNicView = (r: Record<string, any>): VmNicView => ({
  uuid: r.uuid, vmInstanceUuid: r.vmInstanceUuid, l3NetworkUuid: r.l3NetworkUuid, ip: r.ip ?? null, mac: r.mac, netmask: r.netmask ?? null,
  gateway: r.gateway ?? null, deviceId: Number(r.deviceId), type: r.type, internalName: r.internalName,
});

async function nicsOf(db: Kysely<any>, vmUuids: readonly string[], nicUuid?: string): Promise<VmNicView[]> {
  if (vmUuids.length === 0) return [];
  let q = db.selectFrom('vm_nic').selectAll().where('vmInstanceUuid', 'in', vmUuids);
  if (nicUuid) q = q.where('uuid', '=', nicUuid);
  return (await q.orderBy('deviceId').execute()).map(toNicView);
}

async function onHost(db: Kysely<any>, vmUuid: string, hostUuid: string, nicUuid?: string): Promise<VmNicsOnHost | undefined> {
  const vm = await loadVm(db, vmUuid).catch(() => undefined);
  if (!vm) return undefined;
  const nics = await nicsOf(db, [vmUuid], nicUuid);
  return nics.length ? { vm, hostUuid, nics } : undefined;
}

/** `nicsLeftHost` of every follower in reverse order (DHCP lets go before the bridge it sits on); errors are logged. */
async function callLeft(extensions: ExtensionRegistry, p: VmNicsOnHost): Promise<void> {
  for (const f of [...extensions.observers(VmNetworkFollowerPoint)].reverse()) {
    try {
      await f.nicsLeftHost?.(p);
    } catch (err) {
      leftLog.error({ err, vmUuid: p.vm.uuid, hostUuid: p.hostUuid }, 'a network follower failed to let NICs go; ignored');
    }
  }
}

/** Tell the followers NICs left a host (after the fact: errors are logged). */
export async function announceNicsLeftHost(deps: { db: Kysely<any>; extensions: ExtensionRegistry }, vm: VmInstanceView, hostUuid: string, nics?: VmNicView[]): Promise<void> {
  if (deps.extensions.observers(VmNetworkFollowerPoint).length === 0) return;
  const list = nics ?? (await nicsOf(deps.db, [vm.uuid]));
  if (list.length === 0) return;
  await callLeft(deps.extensions, { vm, hostUuid, nics: list });
}

/**
 * A VM found running on a host the node had not put it on (a host's report): the followers make what its
 * NICs need there after the fact (errors logged; the host's next connect replays it anyway).
 */
export async function announceNicsFoundOnHost(deps: { db: Kysely<any>; extensions: ExtensionRegistry }, vm: VmInstanceView, hostUuid: string): Promise<void> {
  if (deps.extensions.observers(VmNetworkFollowerPoint).length === 0) return;
  const p = await onHost(deps.db, vm.uuid, hostUuid);
  if (p) await deps.extensions.callSafe(VmNetworkFollowerPoint, 'beforeNicsOnHost', p);
}

/**
 * A step of the VM chains putting a VM's NICs (or one NIC) on the host the chain chose, before the agent
 * is told; rollback takes them off again. Part of the chains themselves (not inserted), so it runs, and
 * failure tests reach it, whether or not a network plugin follows.
 */
export function followNicsToHost<Ctx>(extensions: ExtensionRegistry, where: (ctx: Ctx) => { vmUuid: string; hostUuid?: string; nicUuid?: string } | undefined): FlowStep<Ctx> {
  const target = (ctx: Ctx) => {
    const w = where(ctx);
    return w?.hostUuid ? (w as { vmUuid: string; hostUuid: string; nicUuid?: string }) : undefined;
  };
  return {
    name: 'networks-on-host',
    skip: (ctx) => !target(ctx),
    async run(ctx, env) {
      if (extensions.observers(VmNetworkFollowerPoint).length === 0) return;
      const t = target(ctx)!;
      const p = await onHost(env.services.db!, t.vmUuid, t.hostUuid, t.nicUuid);
      if (p) await extensions.callVeto(VmNetworkFollowerPoint, 'beforeNicsOnHost', p);
    },
    async rollback(ctx, env) {
      const t = target(ctx);
      if (!t || extensions.observers(VmNetworkFollowerPoint).length === 0) return;
      const p = await onHost(env.services.db!, t.vmUuid, t.hostUuid, t.nicUuid);
      if (p) await callLeft(extensions, p);
    },
  };
}

export const followCreate = (e: ExtensionRegistry) => followNicsToHost<CreateVmCtx>(e, (c) => (c.strategy === 'CreateStopped' ? undefined : { vmUuid: c.uuid, hostUuid: c.host?.hostUuid }));
export const followStart = (e: ExtensionRegistry) => followNicsToHost<StartVmStepCtx>(e, (c) => ({ vmUuid: c.uuid, hostUuid: c.host?.hostUuid }));
export const followMigrate = (e: ExtensionRegistry) => followNicsToHost<MigrateVmStepCtx>(e, (c) => ({ vmUuid: c.uuid, hostUuid: c.target?.hostUuid }));
export const followAttachNic = (e: ExtensionRegistry) => followNicsToHost<AttachNicCtx>(e, (c) => ({ vmUuid: c.vmUuid, hostUuid: c.hostUuid, nicUuid: c.nicUuid }));

/** The host connect chain replays the host's VMs to the followers (a step: it runs before Connected). */
export function registerNetworkFollow(ctx: NodeContext): void {
  const { flows, extensions } = ctx;
  const replay: FlowStep<ConnectHostCtx> = {
    name: 'vm-networks-replay',
    skip: () => extensions.observers(VmNetworkFollowerPoint).length === 0,
    async run(c, env) {
      const db = env.services.db!;
      const rows = await db.selectFrom('vm_instance').select('uuid').where('hostUuid', '=', c.uuid).orderBy('uuid').execute();
      const vms: VmNicsOnHost[] = [];
      for (const r of rows) {
        const p = await onHost(db, r.uuid as string, c.uuid);
        if (p) vms.push(p);
      }
      const stillOnHost: StillOnHost = async (list) => {
        if (!list.length) return [];
        const here = await db.selectFrom('vm_instance').select('uuid').where('hostUuid', '=', c.uuid).where('uuid', 'in', list.map((v) => v.vm.uuid)).execute();
        const uuids = new Set(here.map((r) => r.uuid as string));
        return list.filter((v) => uuids.has(v.vm.uuid));
      };
      await extensions.callVeto(VmNetworkFollowerPoint, 'hostConnected', c.uuid, vms, stillOnHost);
      for (const f of [...extensions.observers(VmNetworkFollowerPoint)].reverse()) {
        await f.pruneHost?.(c.uuid, vms).catch((err: unknown) => leftLog.warn({ err, hostUuid: c.uuid }, 'a network follower failed to prune the host; ignored'));
      }
    },
    rollback: noRollback,
  };
  flows.insert(AfterHostConnected, replay);
}
