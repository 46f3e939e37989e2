import type { Kysely } from 'kysely';
import { VXLAN_POOL_CLUSTER_CIDR_TAG } from '../../contracts/network.ts';
import { VxlanAgentPaths } from '../../contracts/network-agent.ts';
import { isUniqueViolation } from '../../core/db/unique-violation.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { SystemTagRegistry } from '../../core/tag/index.ts';
import type { HostAgent } from './host-agent.ts';

const toLong = (ip: string) => ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);

/** True when `ip` is inside `cidr` (`a.b.c.d/n`). */
export function inCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip) || bits === undefined) return false;
  const block = 2 ** (32 - Number(bits));
  return Math.floor(toLong(ip) / block) === Math.floor(toLong(base) / block);
}

/**
 * The VTEPs of VXLAN pools (table `vxlan_vtep`): where a host's VXLAN tunnels start in a pool, from
 * the pool's CIDR tag for the host's cluster: the management address when inside it, else the address
 * the agent finds inside it (`/network/checkvxlancidr`).
 */
export function vtepStore(deps: { db: Kysely<any>; agent: HostAgent; systemTags: SystemTagRegistry }) {
  const { db, agent } = deps;

  /** The pool's VTEP CIDR for a cluster, from the attach's system tag; undefined when not attached. */
  async function cidrOf(poolUuid: string, clusterUuid: string): Promise<string | undefined> {
    const pattern = deps.systemTags.patterns('L2NetworkVO').find((p) => p.def.pattern === VXLAN_POOL_CLUSTER_CIDR_TAG);
    if (!pattern) return undefined;
    const rows = await db.selectFrom('system_tag').select('tag').where('resourceUuid', '=', poolUuid).execute();
    return rows.map((r) => pattern.parse(r.tag as string)).find((t) => t?.clusterUuid === clusterUuid)?.cidr;
  }

  /** Finds (and records) the host's VTEP in the pool; answers whether it is new or moved. */
  async function discover(hostUuid: string, poolUuid: string): Promise<{ vtepIp: string; changed: boolean }> {
    const host = await agent.host(hostUuid);
    const cidr = await cidrOf(poolUuid, host.clusterUuid);
    if (!cidr) throw new StratoError(SysErrors.OPERATION_ERROR, `the VXLAN pool ${poolUuid} is not attached to the cluster ${host.clusterUuid} of host ${hostUuid} (no VTEP CIDR for it)`);
    const vtepIp = inCidr(host.managementIp, cidr) ? host.managementIp : (await agent.call<{ success: boolean; vtepIp: string }>(hostUuid, VxlanAgentPaths.checkCidr, { cidr })).vtepIp;
    const old = await db.selectFrom('vxlan_vtep').select('vtepIp').where('hostUuid', '=', hostUuid).where('poolUuid', '=', poolUuid).executeTakeFirst();
    if (old?.vtepIp === vtepIp) return { vtepIp, changed: false };
    await db.deleteFrom('vxlan_vtep').where('hostUuid', '=', hostUuid).where('poolUuid', '=', poolUuid).execute();
    try {
      await db.insertInto('vxlan_vtep').values({ hostUuid, poolUuid, clusterUuid: host.clusterUuid, vtepIp }).execute();
    } catch (e) {
      // a concurrent discovery (a host connecting while a VM starts there, a pool attach) recorded it first
      // and tells the peers itself: a VM start must not fail for that
      if (!isUniqueViolation(e)) throw e;
      return { vtepIp, changed: false };
    }
    return { vtepIp, changed: true };
  }

  return {
    discover,
    cidrOf,
    async vtepOf(hostUuid: string, poolUuid: string): Promise<{ vtepIp: string; changed: boolean }> {
      const row = await db.selectFrom('vxlan_vtep').select('vtepIp').where('hostUuid', '=', hostUuid).where('poolUuid', '=', poolUuid).executeTakeFirst();
      return row ? { vtepIp: row.vtepIp as string, changed: false } : discover(hostUuid, poolUuid);
    },
    /** Every other host's VTEP of the pool: a host's head-end replication list for any VNI of it. */
    async peersOf(poolUuid: string, hostUuid: string): Promise<string[]> {
      const rows = await db.selectFrom('vxlan_vtep').select('vtepIp').where('poolUuid', '=', poolUuid).where('hostUuid', '!=', hostUuid).orderBy('vtepIp').execute();
      return [...new Set(rows.map((r) => r.vtepIp as string))];
    },
    async forget(where: { hostUuid?: string; poolUuid?: string; clusterUuid?: string }): Promise<Array<{ hostUuid: string; poolUuid: string }>> {
      let q = db.selectFrom('vxlan_vtep').select(['hostUuid', 'poolUuid']);
      if (where.hostUuid) q = q.where('hostUuid', '=', where.hostUuid);
      if (where.poolUuid) q = q.where('poolUuid', '=', where.poolUuid);
      if (where.clusterUuid) q = q.where('clusterUuid', '=', where.clusterUuid);
      const gone = (await q.execute()) as Array<{ hostUuid: string; poolUuid: string }>;
      for (const g of gone) await db.deleteFrom('vxlan_vtep').where('hostUuid', '=', g.hostUuid).where('poolUuid', '=', g.poolUuid).execute();
      return gone;
    },
  };
}

export type VtepStore = ReturnType<typeof vtepStore>;
