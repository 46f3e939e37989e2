import type { Kysely } from 'kysely';
import { HostAllocatorErrors, HostAllocatorMessages, type AllocateHostReply } from '../../../contracts/host-allocator.ts';
import type { CreateVmCtx } from '../../../contracts/vm.ts';
import { readCache } from '../../../core/db/index.ts';
import { StratoError } from '../../../core/errors/index.ts';
import type { FlowStep } from '../../../core/flow/index.ts';
import { updateByUuid } from './hot-sql.ts';

/**
 * The clusters a VM can run in (ZStack's L2 and primary storage allocator filters): in its zone (or the
 * named cluster), with the L2 network of every L3 attached, and with a primary storage attached (the
 * named one, when given).
 */
export async function candidateClusters(db: Kysely<any>, spec: { zoneUuid: string; clusterUuid?: string; l3NetworkUuids: string[]; primaryStorageUuid?: string }): Promise<string[]> {
  // Four reads of tables that change only when an operator edits the cloud: cached until one of them is written.
  const key = `vm.candidateClusters:${spec.zoneUuid}:${spec.clusterUuid ?? ''}:${spec.l3NetworkUuids.join(',')}:${spec.primaryStorageUuid ?? ''}`;
  return [...(await readCache(db).get(key, CANDIDATE_TABLES, () => readCandidateClusters(db, spec)))];
}

const CANDIDATE_TABLES = ['cluster', 'l3_network', 'l2_network_cluster_ref', 'primary_storage_cluster_ref'];

async function readCandidateClusters(db: Kysely<any>, spec: { zoneUuid: string; clusterUuid?: string; l3NetworkUuids: string[]; primaryStorageUuid?: string }): Promise<string[]> {
  let q = db.selectFrom('cluster').select('uuid').where('zoneUuid', '=', spec.zoneUuid);
  if (spec.clusterUuid) q = q.where('uuid', '=', spec.clusterUuid);
  let clusters = (await q.execute()).map((r) => r.uuid as string);
  const l2s = [...new Set((await db.selectFrom('l3_network').select('l2NetworkUuid').where('uuid', 'in', spec.l3NetworkUuids).execute()).map((r) => r.l2NetworkUuid as string))];
  for (const l2 of l2s) {
    if (!clusters.length) break;
    const attached = new Set((await db.selectFrom('l2_network_cluster_ref').select('clusterUuid').where('l2NetworkUuid', '=', l2).where('clusterUuid', 'in', clusters).execute()).map((r) => r.clusterUuid as string));
    clusters = clusters.filter((c) => attached.has(c));
  }
  if (!clusters.length) return [];
  let ps = db.selectFrom('primary_storage_cluster_ref').select('clusterUuid').where('clusterUuid', 'in', clusters);
  if (spec.primaryStorageUuid) ps = ps.where('primaryStorageUuid', '=', spec.primaryStorageUuid);
  const withPs = new Set((await ps.execute()).map((r) => r.clusterUuid as string));
  return clusters.filter((c) => withPs.has(c));
}

export function noCluster(spec: { zoneUuid: string; clusterUuid?: string; primaryStorageUuid?: string }): StratoError {
  return new StratoError(HostAllocatorErrors.NO_AVAILABLE_HOST, `no cluster in ${spec.clusterUuid ? `cluster ${spec.clusterUuid}` : `zone ${spec.zoneUuid}`} has the L2 networks of every L3 network attached and ${spec.primaryStorageUuid ? `the primary storage ${spec.primaryStorageUuid}` : 'a primary storage'} attached`);
}

/** Reserves CPU and memory on a host chosen by the allocator (the offering's strategy); rollback gives it back. */
export const allocateHost: FlowStep<CreateVmCtx> = {
  name: 'allocate-host',
  async run(ctx, env) {
    const db = env.services.db!;
    const spec = { zoneUuid: ctx.zoneUuid, clusterUuid: ctx.clusterUuid, l3NetworkUuids: ctx.l3NetworkUuids, primaryStorageUuid: ctx.primaryStorageUuidForRootVolume };
    const clusterUuids = await candidateClusters(db, spec);
    if (!clusterUuids.length) throw noCluster(spec);
    ctx.host = await env.services.bus!.call<AllocateHostReply>('hostAllocator', HostAllocatorMessages.allocate, {
      cpuNum: ctx.cpuNum, memorySize: ctx.memorySize, allocatorStrategy: ctx.allocatorStrategy, instanceOfferingUuid: ctx.instanceOfferingUuid,
      zoneUuid: ctx.zoneUuid, clusterUuids, hostUuid: ctx.hostUuid,
    });
    await env.checkpoint();
    const hypervisorType = ctx.host.hypervisorType ?? (await db.selectFrom('host').select('hypervisorType').where('uuid', '=', ctx.host.hostUuid).executeTakeFirst())?.hypervisorType ?? null;
    await updateByUuid(db, 'vm_instance', { clusterUuid: ctx.host.clusterUuid, hypervisorType, allocatorStrategy: ctx.host.allocatorStrategy, lastOpDate: Date.now() }, ctx.uuid);
  },
  async rollback(ctx, env) {
    if (!ctx.host || ctx.hostReleased) return;
    await env.services.bus!.call('hostAllocator', HostAllocatorMessages.release, { hostUuid: ctx.host.hostUuid, cpuNum: ctx.host.cpuNum, memorySize: ctx.host.memorySize });
  },
};
