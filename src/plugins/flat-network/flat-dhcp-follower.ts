import type { Kysely } from 'kysely';
import { FlatDhcpAgentPaths, type DhcpInfo, type PrepareDhcpCmd } from '../../contracts/network-agent.ts';
import type { VmInstanceView, VmNetworkFollower, VmNicsOnHost, VmNicView } from '../../contracts/vm.ts';
import type { WorkQueues } from '../../core/queue/index.ts';
import { bridgeOf, isVxlan, l3Realizations, nicsOnHost, type L3Realization } from '../vxlan/network-views.ts';
import { Presence } from '../vxlan/presence.ts';
import type { HostAgent } from '../vxlan/host-agent.ts';
import type { DhcpServerIps } from './dhcp-server-ip.ts';

/** DHCP option 26 on VXLAN L3 networks: 1500 minus the 50 bytes of VXLAN encapsulation. */
const VXLAN_MTU = 1450;

export interface FlatDhcpDeps {
  db: Kysely<any>;
  agent: HostAgent;
  serverIps: DhcpServerIps;
  queues: WorkQueues;
}

/** NICs on the L3 recorded on any host but `hostUuid` (a migrated VM's NICs count on its new host). */
async function nicsOnOtherHosts(db: Kysely<any>, l3NetworkUuid: string, hostUuid: string): Promise<number> {
  const q = db.selectFrom('vm_nic as n').innerJoin('vm_instance as v', 'v.uuid', 'n.vmInstanceUuid').select((eb) => eb.fn.countAll().as('c')).where('n.l3NetworkUuid', '=', l3NetworkUuid).where('v.hostUuid', 'is not', null).where('v.hostUuid', '!=', hostUuid);
  return Number((await q.executeTakeFirst())?.c ?? 0);
}

/** The L3 networks among these that have the DHCP service from the Flat provider. */
export async function flatDhcpL3s(db: Kysely<any>, l3Uuids: readonly string[]): Promise<Set<string>> {
  const uuids = [...new Set(l3Uuids)];
  if (!uuids.length) return new Set();
  const rows = await db.selectFrom('network_service_l3_ref as r').innerJoin('network_service_provider as p', 'p.uuid', 'r.networkServiceProviderUuid')
    .select('r.l3NetworkUuid as l3').where('p.type', '=', 'Flat').where('r.networkServiceType', '=', 'DHCP').where('r.l3NetworkUuid', 'in', uuids).execute();
  return new Set(rows.map((r) => r.l3 as string));
}

/**
 * The Flat provider's distributed DHCP (ZStack's FlatDhcpBackend): on each host where a VM on an L3 with
 * Flat DHCP runs, a namespace with the L3's DHCP server address and a dnsmasq serving exactly the
 * node's MAC→IP leases of that host's NICs. Prepared and given the leases before a VM's NIC lands
 * (start, migrate target, attach), leases released when it leaves, the namespace deleted when no NIC
 * on the L3 remains on the host; a host that connects gets the whole lease set of its NICs again.
 */
export function flatDhcpFollower(deps: FlatDhcpDeps): VmNetworkFollower & { dhcpDetached(l3NetworkUuid: string): Promise<void> } {
  const { db, agent, serverIps, queues } = deps;
  const presence = new Presence();
  /** Per L3 (any host): whether its DHCP server address is still needed. */
  const served = new Presence();
  const onHost = <T>(hostUuid: string, fn: () => Promise<T>) => queues.submit(`flat-dhcp-host-${hostUuid}`, fn);

  /** The NICs on Flat-DHCP L3 networks, grouped by L3, with how each L3 is realized. */
  async function byL3(nics: readonly VmNicView[]): Promise<Array<{ l3: L3Realization; nics: VmNicView[] }>> {
    const dhcp = await flatDhcpL3s(db, nics.map((n) => n.l3NetworkUuid));
    const r = await l3Realizations(db, [...dhcp]);
    const out = new Map<string, { l3: L3Realization; nics: VmNicView[] }>();
    for (const n of nics) {
      const l3 = r.get(n.l3NetworkUuid);
      if (!l3 || !dhcp.has(n.l3NetworkUuid)) continue;
      const e = out.get(l3.l3NetworkUuid) ?? { l3, nics: [] };
      e.nics.push(n);
      out.set(l3.l3NetworkUuid, e);
    }
    return [...out.values()];
  }

  async function leasesOf(vm: VmInstanceView, l3: L3Realization, nics: readonly VmNicView[]): Promise<DhcpInfo[]> {
    const dns = (await db.selectFrom('l3_network_dns').select('dns').where('l3NetworkUuid', '=', l3.l3NetworkUuid).orderBy('id').execute()).map((r) => r.dns as string);
    const tag = await db.selectFrom('system_tag').select('tag').where('resourceUuid', '=', vm.uuid).where('tag', 'like', 'hostname::%').executeTakeFirst();
    return nics.filter((n) => n.ip && n.netmask).map((n) => ({
      mac: n.mac, ip: n.ip!, netmask: n.netmask!, gateway: n.gateway,
      // ZStack: the default NIC's lease names the VM (its hostname:: tag, else its IP with dashes).
      hostname: vm.defaultL3NetworkUuid === n.l3NetworkUuid ? (tag ? String(tag.tag).slice('hostname::'.length) : n.ip!.replace(/\./g, '-')) : null,
      dns, mtu: isVxlan(l3) ? VXLAN_MTU : null,
    }));
  }

  /**
   * The one command that serves an L3 on the host (ZStack's flat DHCP batchApply): the namespace on the L3's
   * bridge, the bridge made by the agent for NoVlan/VLAN (told the physical interface; VXLAN's comes from its
   * follower), and the leases. `leases` is called last, right before the command goes: what it returns is
   * what is sent. An L2 without a physical interface puts NICs on no bridge at all: nothing to serve there.
   */
  async function prepare(hostUuid: string, l3: L3Realization, leases: () => Promise<DhcpInfo[]>, rebuild = false): Promise<void> {
    const bridge = bridgeOf(l3);
    if (!bridge) return;
    const server = await serverIps.ensure(l3.l3NetworkUuid);
    const cmd: PrepareDhcpCmd = {
      l3NetworkUuid: l3.l3NetworkUuid, bridgeName: bridge.bridgeName, dhcpServerIp: server.ip, dhcpNetmask: server.netmask,
      physicalInterface: bridge.physicalInterface, dhcp: await leases(), ...(rebuild ? { rebuild } : {}),
    };
    await agent.call(hostUuid, FlatDhcpAgentPaths.prepare, cmd);
  }

  /**
   * VMs this node put on the host that it does not record there yet (a start or a migration in flight),
   * with their NICs on the L3s they arrive on: a rebuilt lease set must keep theirs.
   */
  async function arriving(hostUuid: string, recorded: readonly VmNicsOnHost[]): Promise<VmNicsOnHost[]> {
    const known = new Set(recorded.map((v) => v.vm.uuid));
    const out: VmNicsOnHost[] = [];
    for (const l3 of presence.networksOn(hostUuid)) {
      const uuids = presence.vmsAt(`${hostUuid}/${l3}`).filter((u) => !known.has(u));
      if (!uuids.length) continue;
      const vms = await db.selectFrom('vm_instance').select(['uuid', 'defaultL3NetworkUuid']).where('uuid', 'in', uuids).execute();
      const nics = await db.selectFrom('vm_nic').selectAll().where('vmInstanceUuid', 'in', uuids).where('l3NetworkUuid', '=', l3).execute();
      for (const vm of vms) {
        const mine = nics.filter((n) => n.vmInstanceUuid === vm.uuid).map((n) => ({
          uuid: n.uuid, vmInstanceUuid: n.vmInstanceUuid, l3NetworkUuid: n.l3NetworkUuid, ip: n.ip ?? null, mac: n.mac, netmask: n.netmask ?? null,
          gateway: n.gateway ?? null, deviceId: Number(n.deviceId), type: n.type, internalName: n.internalName,
        }) as VmNicView);
        if (mine.length) out.push({ vm: vm as unknown as VmInstanceView, hostUuid, nics: mine });
      }
    }
    return out;
  }

  /** Per host and L3: the arrivals whose leases have not been sent yet (their task waits in the host's queue, or works them out). */
  const waiting = new Map<string, Arrivals>();
  type Arrivals = { started: boolean; sending: boolean; entries: Array<{ vm: VmInstanceView; nics: VmNicView[] }>; done: Promise<void> };

  /**
   * Prepare the namespace (and the bridge) with these NICs' leases, one agent command, in the host's queue.
   * VMs arriving on one L3 of one host while an earlier task runs (a burst of starts, each agent call
   * taking seconds) join one task: one prepare carrying all their leases, instead of one each in turn.
   * They join the task that has not sent its prepare yet, also while it takes the DHCP address and works
   * out the leases (only an arrival while the prepare is on its way waits for a task of its own).
   * Each arrival is in `presence` before the prepare that carries it, and a release or namespace deletion
   * queued before the task runs before it, as when each VM had its own task.
   */
  function arrive(hostUuid: string, l3: L3Realization, vm: VmInstanceView, nics: VmNicView[]): Promise<void> {
    const k = `${hostUuid}/${l3.l3NetworkUuid}`;
    const pending = waiting.get(k);
    if (pending && !pending.sending) {
      pending.entries.push({ vm, nics });
      if (pending.started) {
        presence.arrive(k, vm.uuid);
        served.arrive(l3.l3NetworkUuid, vm.uuid);
      }
      return pending.done;
    }
    const a: Arrivals = { started: false, sending: false, entries: [{ vm, nics }], done: Promise.resolve() };
    waiting.set(k, a);
    const close = () => {
      // From here on nobody joins: a later arrival gets a task (and a prepare) of its own.
      a.sending = true;
      if (waiting.get(k) === a) waiting.delete(k);
    };
    a.done = onHost(hostUuid, async () => {
      a.started = true;
      for (const e of a.entries) {
        presence.arrive(k, e.vm.uuid);
        served.arrive(l3.l3NetworkUuid, e.vm.uuid);
      }
      try {
        await prepare(hostUuid, l3, async () => {
          const dhcp: DhcpInfo[] = [];
          // `entries` grows while the leases are read: the loop takes the late ones too, and closes in the
          // same turn as its last length check, so no arrival is left between the list and the command.
          for (let i = 0; i < a.entries.length; i++) dhcp.push(...(await leasesOf(a.entries[i].vm, l3, a.entries[i].nics)));
          close();
          return dhcp;
        });
      } finally {
        close();
      }
    });
    return a.done;
  }

  return {
    async beforeNicsOnHost({ vm, hostUuid, nics }) {
      for (const { l3, nics: mine } of await byL3(nics)) {
        if (!bridgeOf(l3)) continue; // nothing served there (and nicsLeftHost skips it too)
        await arrive(hostUuid, l3, vm, mine);
      }
    },

    async nicsLeftHost({ vm, hostUuid, nics }) {
      for (const { l3, nics: mine } of await byL3(nics)) {
        if (!bridgeOf(l3)) continue;
        const othersHere = () => nicsOnHost(db, hostUuid, { l3NetworkUuid: l3.l3NetworkUuid }, mine.map((n) => n.uuid)).then((n) => n > 0);
        try {
          await onHost(hostUuid, async () => {
            const k = `${hostUuid}/${l3.l3NetworkUuid}`;
            presence.leave(k, vm.uuid);
            if (presence.othersThere(k, vm.uuid) || (await othersHere())) await agent.call(hostUuid, FlatDhcpAgentPaths.release, { l3NetworkUuid: l3.l3NetworkUuid, dhcp: mine.map((n) => ({ mac: n.mac })) });
            else await agent.call(hostUuid, FlatDhcpAgentPaths.deleteNamespace, { l3NetworkUuid: l3.l3NetworkUuid });
          });
        } finally {
          // Also when the host could not be told (Disconnected, an agent error: its next connect's sync removes the namespace).
          served.leave(l3.l3NetworkUuid, vm.uuid);
          // No host serves the L3 any more: its DHCP address goes back to the IPAM (taken again by the next VM).
          await serverIps.release(l3.l3NetworkUuid, async () => served.othersThere(l3.l3NetworkUuid, vm.uuid) || (await othersHere()) || (await nicsOnOtherHosts(db, l3.l3NetworkUuid, hostUuid)) > 0);
        }
      }
    },

    /** DHCP taken off the L3 (DetachNetworkServiceFromL3Network): every host serving it stops, and its address goes back. */
    async dhcpDetached(l3NetworkUuid) {
      const hosts = await db.selectFrom('vm_nic as n').innerJoin('vm_instance as v', 'v.uuid', 'n.vmInstanceUuid').select('v.hostUuid as hostUuid').distinct().where('n.l3NetworkUuid', '=', l3NetworkUuid).where('v.hostUuid', 'is not', null).execute();
      for (const h of hosts) await onHost(h.hostUuid as string, () => agent.call(h.hostUuid as string, FlatDhcpAgentPaths.deleteNamespace, { l3NetworkUuid }));
      await serverIps.release(l3NetworkUuid, async () => false);
    },

    /**
     * The node's whole view again: each L3's namespace and exactly its NICs' leases on this host (`rebuild`
     * drops stale ones), worked out inside the host's queue from the VMs still there (see the contract: a
     * namespace rebuilt from the older list after a departed VM's deletion would stay).
     */
    async hostConnected(hostUuid, recorded: readonly VmNicsOnHost[], stillOnHost) {
      await onHost(hostUuid, async () => {
        const here = await stillOnHost(recorded);
        const perL3 = new Map<string, { l3: L3Realization; leases: DhcpInfo[] }>();
        for (const v of [...here, ...(await arriving(hostUuid, here))]) {
          for (const { l3, nics } of await byL3(v.nics)) {
            const e = perL3.get(l3.l3NetworkUuid) ?? { l3, leases: [] };
            e.leases.push(...(await leasesOf(v.vm, l3, nics)));
            perL3.set(l3.l3NetworkUuid, e);
          }
        }
        for (const { l3, leases } of perL3.values()) await prepare(hostUuid, l3, async () => leases, true);
      });
    },

    /**
     * No namespace of an L3 the node has no NIC of on the host (`sync`), nor of one a VM is arriving on
     * (started or migrated there, not recorded yet). An L3 whose namespace went and that no host serves
     * any more gives its DHCP address back (a VM that left while the node could not tell the host).
     */
    async pruneHost(hostUuid, vms) {
      const l3s = new Set<string>(presence.networksOn(hostUuid));
      for (const v of vms) for (const { l3 } of await byL3(v.nics)) if (bridgeOf(l3)) l3s.add(l3.l3NetworkUuid);
      const { deleted } = await onHost(hostUuid, () => agent.call<{ success: boolean; deleted?: string[] }>(hostUuid, FlatDhcpAgentPaths.sync, { l3NetworkUuids: [...l3s] }));
      for (const l3 of deleted ?? []) {
        await serverIps.release(l3, async () => served.othersThere(l3, '') || (await nicsOnOtherHosts(db, l3, '')) > 0);
      }
    },
  };
}
