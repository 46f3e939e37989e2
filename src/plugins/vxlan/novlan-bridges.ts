import type { Kysely } from 'kysely';
import { L2NetworkTypes, type L2NetworkTypeBackend } from '../../contracts/network.ts';
import { NoVlanAgentPaths } from '../../contracts/network-agent.ts';
import type { CoreLogger } from '../../core/flow/logger.ts';
import type { HostAgent } from './host-agent.ts';
import { noVlanBridgeName } from './network-views.ts';

/** Only real hosts have bridges to make; simulated hosts get theirs implicitly from `/vm/start`. */
const REALIZED_ON = ['KVM'];

/**
 * NoVlan L2 networks are realized on a cluster's hosts when attached (ZStack's
 * KVMRealizeL2NoVlanNetworkBackend) and again when a host connects: `br_<iface>` holding the interface.
 */
export function noVlanBridges(deps: { db: Kysely<any>; agent: HostAgent; log: CoreLogger }) {
  const { db, agent, log } = deps;
  const make = (hostUuid: string, physicalInterface: string) => agent.call(hostUuid, NoVlanAgentPaths.createBridge, { physicalInterfaceName: physicalInterface, bridgeName: noVlanBridgeName(physicalInterface) });

  const backend: L2NetworkTypeBackend = {
    /** Before the ref is written: a connected host that cannot make the bridge refuses the attach. */
    async attachToCluster(l2, clusterUuid) {
      if (!l2.physicalInterface) return;
      const hosts = await db.selectFrom('host').select('uuid').where('clusterUuid', '=', clusterUuid).where('status', '=', 'Connected').where('hypervisorType', 'in', REALIZED_ON).execute();
      for (const h of hosts) await make(h.uuid as string, l2.physicalInterface);
    },
  };

  /** On connect, every NoVlan L2 of the host's cluster (a failure is logged: VMs on it then fail to start, saying why). */
  async function hostConnected(hostUuid: string): Promise<void> {
    const host = await agent.host(hostUuid);
    if (!REALIZED_ON.includes(host.hypervisorType)) return;
    const l2s = await db.selectFrom('l2_network_cluster_ref as r').innerJoin('l2_network as l2', 'l2.uuid', 'r.l2NetworkUuid').select(['l2.uuid as uuid', 'l2.physicalInterface as iface'])
      .where('r.clusterUuid', '=', host.clusterUuid).where('l2.type', '=', L2NetworkTypes.noVlan).execute();
    for (const l2 of l2s) {
      if (!l2.iface) continue;
      await make(hostUuid, l2.iface as string).catch((err: unknown) => log.warn({ err, hostUuid, l2NetworkUuid: l2.uuid }, 'novlan: the bridge could not be made on the host'));
    }
  }

  return { backend, hostConnected };
}
