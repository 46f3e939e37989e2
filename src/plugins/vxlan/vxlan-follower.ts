import type { Kysely } from 'kysely';
import { L2NetworkTypes } from '../../contracts/network.ts';
import { VxlanAgentPaths } from '../../contracts/network-agent.ts';
import type { VmNetworkFollower, VmNicView } from '../../contracts/vm.ts';
import type { CoreLogger } from '../../core/flow/logger.ts';
import type { WorkQueues } from '../../core/queue/index.ts';
import type { HostAgent } from './host-agent.ts';
import { isVxlan, l3Realizations, nicsOnHost, type L3Realization } from './network-views.ts';
import { Presence } from './presence.ts';
import type { VtepStore } from './vteps.ts';

type VxlanL2 = L3Realization & { virtualNetworkId: number; poolUuid: string };

export interface VxlanDeps {
  db: Kysely<any>;
  agent: HostAgent;
  vteps: VtepStore;
  queues: WorkQueues;
  log: CoreLogger;
}

/** The VXLAN L2 networks among these NICs' L3 networks, each with the NICs on it. */
async function vxlanL2sOf(db: Kysely<any>, nics: readonly VmNicView[]): Promise<Array<{ l2: VxlanL2; nicUuids: string[] }>> {
  const r = await l3Realizations(db, nics.map((n) => n.l3NetworkUuid));
  const out = new Map<string, { l2: VxlanL2; nicUuids: string[] }>();
  for (const n of nics) {
    const x = r.get(n.l3NetworkUuid);
    if (!isVxlan(x)) continue;
    const e = out.get(x.l2NetworkUuid) ?? { l2: x, nicUuids: [] };
    e.nicUuids.push(n.uuid);
    out.set(x.l2NetworkUuid, e);
  }
  return [...out.values()];
}

/** These L2 networks, those that are VXLAN networks of a pool (VMs arriving on them by this node's presence). */
async function vxlanL2sByUuid(db: Kysely<any>, l2Uuids: readonly string[]): Promise<VxlanL2[]> {
  if (!l2Uuids.length) return [];
  const rows = await db.selectFrom('l2_network').select(['uuid', 'type', 'virtualNetworkId', 'poolUuid', 'physicalInterface']).where('uuid', 'in', [...l2Uuids]).execute();
  return rows.map((r) => ({ l3NetworkUuid: '', l2NetworkUuid: r.uuid as string, l2Type: r.type as string, virtualNetworkId: r.virtualNetworkId == null ? null : Number(r.virtualNetworkId), poolUuid: (r.poolUuid as string | null) ?? null, physicalInterface: (r.physicalInterface as string | null) ?? null }))
    .filter((r): r is VxlanL2 => isVxlan(r));
}

/**
 * VXLAN L2 networks follow VMs (ZStack's KVMRealizeL2VxlanNetworkBackend, unicast mode): the VNI's VTEP
 * and bridge are made on a host before a VM's NIC lands there, with every other VTEP of the pool as
 * peers (ZStack populates all hosts of the attached clusters), and removed when no NIC on the host uses
 * the VNI any more. A VTEP that appears, moves or goes is sent to every host realizing a VNI of the pool.
 */
export function vxlanFollower(deps: VxlanDeps) {
  const { db, agent, vteps, queues, log } = deps;
  const presence = new Presence();
  const key = (hostUuid: string, l2Uuid: string) => `${hostUuid}/${l2Uuid}`;
  const onHost = <T>(hostUuid: string, fn: () => Promise<T>) => queues.submit(`vxlan-host-${hostUuid}`, fn);

  /** Hosts realizing each VNI of the pool, by the node's records (VMs with NICs on it) and this node's arrivals. */
  async function vnisInUse(poolUuid: string): Promise<Array<{ hostUuid: string; vni: number }>> {
    const rows = await db.selectFrom('vm_nic as n').innerJoin('vm_instance as v', 'v.uuid', 'n.vmInstanceUuid').innerJoin('l3_network as l3', 'l3.uuid', 'n.l3NetworkUuid').innerJoin('l2_network as l2', 'l2.uuid', 'l3.l2NetworkUuid')
      .select(['v.hostUuid as hostUuid', 'l2.virtualNetworkId as vni']).distinct()
      .where('l2.poolUuid', '=', poolUuid).where('l2.type', '=', L2NetworkTypes.vxlan).where('v.hostUuid', 'is not', null).execute();
    return rows.map((r) => ({ hostUuid: r.hostUuid as string, vni: Number(r.vni) }));
  }

  /** Every host realizing a VNI of the pool gets its whole peer list again (best effort: a host that misses it gets it on its next connect). */
  async function repopulate(poolUuid: string, exceptHostUuid?: string): Promise<void> {
    for (const { hostUuid, vni } of await vnisInUse(poolUuid)) {
      if (hostUuid === exceptHostUuid) continue;
      const peers = await vteps.peersOf(poolUuid, hostUuid);
      await agent.call(hostUuid, VxlanAgentPaths.populateFdb, { vni, peers }).catch((err: unknown) => log.warn({ err, hostUuid, vni }, 'vxlan: populatefdb failed; the host gets its peers on its next connect'));
    }
  }

  async function realize(hostUuid: string, l2: VxlanL2): Promise<void> {
    const { vtepIp, changed } = await vteps.vtepOf(hostUuid, l2.poolUuid);
    await agent.call(hostUuid, VxlanAgentPaths.createBridge, { vni: l2.virtualNetworkId, vtepIp, peers: await vteps.peersOf(l2.poolUuid, hostUuid) });
    if (changed) await repopulate(l2.poolUuid, hostUuid);
  }

  /** Per host and VNI: VMs waiting in the host's queue for one realize (see `arrive`). */
  const waiting = new Map<string, { started: boolean; vmUuids: string[]; done: Promise<void> }>();

  /**
   * Realize the VNI on the host for this VM, in the host's queue. VMs arriving on one VNI of one host
   * while an earlier task runs share one waiting task (one createbridge for all), each in `presence`
   * before its agent call; a deletion queued before it still runs before it.
   */
  function arrive(hostUuid: string, l2: VxlanL2, vmUuid: string): Promise<void> {
    const k = key(hostUuid, l2.l2NetworkUuid);
    const pending = waiting.get(k);
    if (pending && !pending.started) {
      pending.vmUuids.push(vmUuid);
      return pending.done;
    }
    const a = { started: false, vmUuids: [vmUuid], done: Promise.resolve() };
    waiting.set(k, a);
    a.done = onHost(hostUuid, async () => {
      a.started = true;
      if (waiting.get(k) === a) waiting.delete(k);
      for (const u of a.vmUuids) presence.arrive(k, u);
      await realize(hostUuid, l2);
    });
    return a.done;
  }

  const follower: VmNetworkFollower = {
    async beforeNicsOnHost({ vm, hostUuid, nics }) {
      for (const { l2 } of await vxlanL2sOf(db, nics)) await arrive(hostUuid, l2, vm.uuid);
    },
    async nicsLeftHost({ vm, hostUuid, nics }) {
      for (const { l2, nicUuids } of await vxlanL2sOf(db, nics)) {
        await onHost(hostUuid, async () => {
          const k = key(hostUuid, l2.l2NetworkUuid);
          presence.leave(k, vm.uuid);
          if (presence.othersThere(k, vm.uuid) || (await nicsOnHost(db, hostUuid, { l2NetworkUuid: l2.l2NetworkUuid }, nicUuids)) > 0) return;
          await agent.call(hostUuid, VxlanAgentPaths.deleteBridge, { vni: l2.virtualNetworkId });
        });
      }
    },
    async hostConnected(hostUuid, vms, stillOnHost) {
      const host = await agent.host(hostUuid);
      // Every pool attached to the host's cluster: its VTEP there (a host without an address in the CIDR only fails its VMs' starts).
      const pools = await db.selectFrom('l2_network_cluster_ref as r').innerJoin('l2_network as l2', 'l2.uuid', 'r.l2NetworkUuid').select('l2.uuid as uuid').where('r.clusterUuid', '=', host.clusterUuid).where('l2.type', '=', L2NetworkTypes.vxlanPool).execute();
      for (const p of pools) {
        try {
          const { changed } = await vteps.discover(hostUuid, p.uuid as string);
          if (changed) await repopulate(p.uuid as string, hostUuid);
        } catch (err) {
          log.warn({ err, hostUuid, poolUuid: p.uuid }, 'vxlan: no VTEP for this host in the pool');
        }
      }
      // In the host's queue, from the VMs still recorded there: one that left since `vms` was read has its
      // bridge deletion queued already, and realizing from the older list would make the bridge again after it.
      await onHost(hostUuid, async () => {
        const l2s = new Map<string, VxlanL2>();
        // also those of VMs arriving (starting, migrating in): not recorded on the host yet, their bridge is needed all the same
        for (const l2 of await vxlanL2sByUuid(db, presence.networksOn(hostUuid))) l2s.set(l2.l2NetworkUuid, l2);
        for (const v of await stillOnHost(vms)) for (const { l2 } of await vxlanL2sOf(db, v.nics)) l2s.set(l2.l2NetworkUuid, l2);
        for (const l2 of l2s.values()) await realize(hostUuid, l2);
      });
    },
    /** Nothing else: a VNI the node has no NIC on here, nor a VM arriving on, goes (the agent keeps one still in use). */
    async pruneHost(hostUuid, vms) {
      const vnis = new Set<number>((await vxlanL2sByUuid(db, presence.networksOn(hostUuid))).map((l2) => l2.virtualNetworkId));
      for (const v of vms) for (const { l2 } of await vxlanL2sOf(db, v.nics)) vnis.add(l2.virtualNetworkId);
      await onHost(hostUuid, () => agent.call(hostUuid, VxlanAgentPaths.sync, { vnis: [...vnis] }));
    },
  };
  return { follower, repopulate };
}
