import type { Kysely } from 'kysely';
import { HostErrors, HostLifecyclePoint, HypervisorFactoryPoint, type HostSpec } from '../../contracts/host.ts';
import { SecurityGroupAgentPaths, SecurityGroupMembershipPoint, type ApplySecurityGroupRulesCmd, type SecurityGroupMembership, type SecurityGroupRulesChangedEvent } from '../../contracts/security-group.ts';
import { VmLifecyclePoint, VmNetworkFollowerPoint, type VmNetworkFollower, type StillOnHost, type VmNicsOnHost } from '../../contracts/vm.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { NodeContext, ServiceModule } from '../../core/node-context.ts';
import { concernsSecurityGroups, GONE_STATES, groupsNaming, membersOf, nicsOnHost, nicsWithHost, ruleCommand, type SgNic } from './rule-sets.ts';

export { simulatorSecurityGroupPlugin, securityGroupsOf } from './simulator-commands.ts';

/**
 * Security groups realized on hosts (ZStack's KVM SecurityGroupHypervisorBackend): the rules of each
 * member NIC go to the host its VM runs on, as `/securitygroup/*` agent commands (src/agent/network/
 * security-group.ts makes them iptables chains).
 * - a VM's NICs arrive on a host (create, start, migrate target, attach): applied before the agent
 *   starts the VM; a failure fails the operation (its rollback removes them again);
 * - they leave it (stop, destroy, migrate source, detach, rollback): their chains are removed; when the
 *   VM is then recorded on another host (a migration done or rolled back) they are applied there again,
 *   so a change made while it was Migrating (sent to the host it was recorded on) reaches it;
 * - membership or rules change: every NIC whose rules changed (members of the group and of the groups
 *   naming it as remote group) is re-applied on its host, right away;
 * - a host (re)connects: its whole set is refreshed (stale chains vanish).
 * Commands to one host are computed and sent one at a time, so the last sent is the latest state.
 * A host a command failed on, or skipped while Disconnected, is "behind" (ZStack's failure hosts): it
 * gets every NIC of its VMs again once Connected, and every `securityGroup.host.failureWorkerInterval`.
 */
const senders = new WeakMap<NodeContext, HostSender>();

export const securityGroupKvmPlugin: ServiceModule = {
  id: 'security-group-kvm',
  setup(ctx) {
    const interval = ctx.config.define({ category: 'securityGroup', name: 'host.failureWorkerInterval', type: 'number', defaultValue: 60, min: 1, description: 'seconds between retries of hosts whose security-group rules could not be applied' });
    const hosts = new HostSender(ctx, () => interval.get() * 1000);
    senders.set(ctx, hosts);
    interval.onChange(() => hosts.restart());
    ctx.extensions.registerObserver(HostLifecyclePoint, {
      afterStatusChange: (host) => (host.status === 'Connected' ? hosts.catchUp(host.uuid) : undefined),
      afterDelete: (host) => hosts.forget(host.uuid),
    }, { by: 'security-group-kvm' });
    ctx.extensions.registerObserver(VmNetworkFollowerPoint, follower(ctx, hosts), { order: 50, by: 'security-group-kvm' });
    ctx.extensions.registerObserver(SecurityGroupMembershipPoint, membership(ctx, hosts), { by: 'security-group-kvm' });
    ctx.extensions.registerObserver(VmLifecyclePoint, {
      // a destroyed VM's addresses stop counting in remote groups (and count again when it is recovered)
      async afterStateChange(vm, previous) {
        if (GONE_STATES.includes(vm.state) === GONE_STATES.includes(previous)) return;
        const nics = (await ctx.db.selectFrom('vm_nic').select('uuid').where('vmInstanceUuid', '=', vm.uuid).execute()).map((r) => r.uuid as string);
        const groups = [...new Set((await ctx.db.selectFrom('vm_nic_security_group_ref').select('securityGroupUuid').where('vmNicUuid', 'in', nics.length ? nics : ['']).execute()).map((r) => r.securityGroupUuid as string))];
        if (groups.length) await hosts.reapply(await membersOf(ctx.db, [...groups, ...(await groupsNaming(ctx.db, groups))]));
      },
    }, { by: 'security-group-kvm' });
  },
  start(ctx) {
    senders.get(ctx)?.start();
  },
  stop(ctx) {
    senders.get(ctx)?.stop();
  },
};

class HostSender {
  /** Hosts whose last command failed or was skipped: their rules may be older than the database's. */
  readonly #behind = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #generation = 0;
  #started = false;

  constructor(private readonly ctx: NodeContext, private readonly retryEveryMs: () => number) {}

  /**
   * Computes (inside the host's queue) and sends one command; `connecting`: a connect replay (its
   * failure fails the connect, which the next reconnect replays). A Connecting host gets the command
   * too: its agent answered the connect, and a change committed after the replay computed its set
   * would otherwise reach it only with the next change.
   */
  send(hostUuid: string, path: string, compute: () => Promise<ApplySecurityGroupRulesCmd | undefined>, opts: { connecting?: boolean } = {}): Promise<void> {
    return this.ctx.queues.submit(`security-group-host-${hostUuid}`, async () => {
      const host = await hostRow(this.ctx.db, hostUuid);
      if (!host) return; // deleted meanwhile: nothing to hold rules
      if (!opts.connecting && host.status === 'Disconnected') {
        this.#behind.add(hostUuid);
        throw new StratoError(HostErrors.NOT_CONNECTED, `host ${hostUuid} is ${host.status}; its security-group rules cannot be sent (a reconnect re-sends them)`);
      }
      const cmd = await compute();
      if (!cmd) return;
      const endpoint = await this.ctx.extensions.strategy(HypervisorFactoryPoint, host.hypervisorType).endpointOf(host);
      try {
        await this.ctx.agents.call(endpoint, path, { hostUuid, ...cmd });
      } catch (e) {
        if (!opts.connecting) this.#behind.add(hostUuid);
        throw e;
      }
    });
  }

  /** Every NIC of the host's VMs again (a host that was behind); it stays behind if this fails too. */
  resync(hostUuid: string): Promise<void> {
    return this.send(hostUuid, SecurityGroupAgentPaths.applyRules, async () => {
      this.#behind.delete(hostUuid); // a failure from here on marks it again
      const nics = await nicsOnHost(this.ctx.db, hostUuid);
      return (await concernsSecurityGroups(this.ctx.db, nics)) ? ruleCommand(this.ctx.db, nics) : undefined;
    });
  }

  /** A host that is behind, now Connected: resynced in the background (a failure leaves it behind). */
  catchUp(hostUuid: string): void {
    if (!this.#behind.has(hostUuid)) return;
    void this.resync(hostUuid).catch((err: unknown) => this.ctx.log.warn({ err, host: hostUuid }, 'security groups: a host that missed rule changes could not be resynced; retried later'));
  }

  forget(hostUuid: string): void {
    this.#behind.delete(hostUuid);
  }

  /** Retries the hosts that are behind every interval, from now until `stop`. */
  start(): void {
    const generation = ++this.#generation; // a tick of an earlier start (before a restart) schedules no more
    this.#started = true;
    const tick = () => {
      this.#timer = setTimeout(() => {
        void this.#retryBehind().finally(() => generation === this.#generation && tick());
      }, this.retryEveryMs());
      this.#timer.unref();
    };
    tick();
  }

  stop(): void {
    this.#generation++;
    this.#started = false;
    if (this.#timer) clearTimeout(this.#timer);
  }

  /** A new interval applies at once. */
  restart(): void {
    if (!this.#started) return;
    this.stop();
    this.start();
  }

  async #retryBehind(): Promise<void> {
    for (const host of [...this.#behind]) {
      // a failed read keeps the host behind (only a host that is gone is forgotten)
      const row = await hostRow(this.ctx.db, host).catch(() => null);
      if (row === undefined) this.#behind.delete(host);
      else if (row?.status === 'Connected') this.catchUp(host);
    }
  }

  /** Re-applies NICs wherever their VMs run; a host that is not connected is skipped (its reconnect refreshes it). */
  async reapply(nicUuids: readonly string[]): Promise<void> {
    const byHost = new Map<string, string[]>();
    for (const n of await nicsWithHost(this.ctx.db, nicUuids)) if (n.hostUuid) byHost.set(n.hostUuid, [...(byHost.get(n.hostUuid) ?? []), n.uuid]);
    const results = await Promise.allSettled([...byHost].map(([host, uuids]) =>
      this.send(host, SecurityGroupAgentPaths.applyRules, async () => {
        // fresh inside the queue: the NIC may have moved or gone since
        const nics = (await nicsWithHost(this.ctx.db, uuids)).filter((n) => n.hostUuid === host);
        return nics.length ? ruleCommand(this.ctx.db, nics) : undefined;
      })));
    // A host that refused (not its connection) gets one fresh resync of its whole set right away.
    const hostList = [...byHost.keys()];
    const retried = await Promise.allSettled(results.map((r, i) => (r.status === 'rejected' && !isNotConnected(r.reason) ? this.resync(hostList[i]) : Promise.resolve())));
    const failed = retried.filter((r): r is PromiseRejectedResult => r.status === 'rejected' && !isNotConnected(r.reason));
    if (failed.length) throw new StratoError(SysErrors.OPERATION_ERROR, `security-group rules could not be applied on ${failed.length} host(s)`, { cause: failed[0].reason });
  }
}

const isNotConnected = (e: unknown) => e instanceof StratoError && e.errorCode.code === HostErrors.NOT_CONNECTED.code;

async function hostRow(db: Kysely<any>, uuid: string): Promise<(HostSpec & { status: string }) | undefined> {
  const row = await db.selectFrom('host').select(['uuid', 'name', 'managementIp', 'clusterUuid', 'zoneUuid', 'hypervisorType', 'agentToken', 'status']).where('uuid', '=', uuid).executeTakeFirst();
  return row as (HostSpec & { status: string }) | undefined;
}

function follower(ctx: NodeContext, hosts: HostSender): VmNetworkFollower {
  const { db } = ctx;
  return {
    async beforeNicsOnHost(p: VmNicsOnHost) {
      if (!(await concernsSecurityGroups(db, p.nics))) return;
      await hosts.send(p.hostUuid, SecurityGroupAgentPaths.applyRules, () => ruleCommand(db, p.nics));
    },
    async nicsLeftHost(p: VmNicsOnHost) {
      if (!(await concernsSecurityGroups(db, p.nics))) return;
      const remove = p.nics.map((n) => ({ vmNicUuid: n.uuid, internalName: n.internalName, mac: n.mac, ips: [], securityGroupUuids: [], actionCode: 'deleteChain' as const }));
      const removed = await hosts.send(p.hostUuid, SecurityGroupAgentPaths.applyRules, async () => ({ nics: remove, rules: {} })).then(() => undefined, (e: unknown) => e);
      // The VM is recorded on another host now: a migration's source let go, or a migration rolled back
      // from its target. A rule or membership change made while the VM was Migrating reached only the
      // host it was recorded on (the node does not record the target), a target that reconnected mid-way
      // dropped the chains it got, and a rollback after record-on-target finds the source's chains gone:
      // applying the NICs again where the VM is now covers all three.
      const vm = await db.selectFrom('vm_instance').select('hostUuid').where('uuid', '=', p.vm.uuid).executeTakeFirst();
      if (vm?.hostUuid && vm.hostUuid !== p.hostUuid) await hosts.reapply(p.nics.map((n) => n.uuid));
      if (removed !== undefined && !isNotConnected(removed)) throw removed; // a disconnected host is refreshed on reconnect
    },
    async hostConnected(hostUuid: string, vms: readonly VmNicsOnHost[], stillOnHost: StillOnHost) {
      const nics: SgNic[] = vms.flatMap((v) => v.nics);
      const host = await hostRow(db, hostUuid);
      // real hosts always (a VM that left while the host was away may have left chains); others only with members
      if (host?.hypervisorType !== 'KVM' && !(await concernsSecurityGroups(db, nics))) return;
      // the NICs of VMs still there once in the host's queue: one that left since `vms` was read keeps no chains
      await hosts.send(hostUuid, SecurityGroupAgentPaths.refreshRulesOnHost, async () => ruleCommand(db, (await stillOnHost(vms)).flatMap((v) => v.nics), { membersOnly: true }), { connecting: true });
    },
  };
}

function membership(ctx: NodeContext, hosts: HostSender): SecurityGroupMembership {
  const { db } = ctx;
  /** The group's members and the members of every group naming it as remote group: their rules all changed. */
  const affected = async (sg: string, extra: readonly string[] = []) => [...new Set([...extra, ...(await membersOf(db, [sg, ...(await groupsNaming(db, [sg]))]))])];
  return {
    async afterNicsAdded(sg, nics) {
      await hosts.reapply(await affected(sg, nics.map((n) => n.vmNicUuid)));
    },
    async afterNicsRemoved(sg, vmNicUuids) {
      await hosts.reapply(await affected(sg, vmNicUuids));
    },
    async afterRulesChanged(e: SecurityGroupRulesChangedEvent) {
      await hosts.reapply(await membersOf(db, [e.securityGroupUuid]));
    },
  };
}
