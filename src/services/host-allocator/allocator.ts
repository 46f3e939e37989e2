import { HostAllocatorErrors, HostAllocatorStrategyPoint, type AllocateHostReply, type AllocateHostRequest, type HostCandidate } from '../../contracts/host-allocator.ts';
import { HostMessages } from '../../contracts/host.ts';
import { DEFAULT_HOST_ALLOCATOR_STRATEGY } from '../../contracts/offering.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { applyFilters, hostFilters } from './filters.ts';

const HOST_TAG_PREFIX = 'hostTag::';
/** At most this many rejected hosts are named in an error (the rest are counted). */
const MAX_REASONS = 50;

const num = (v: unknown) => Number(v ?? 0);

function checkRequest(r: AllocateHostRequest): void {
  for (const k of ['cpuNum', 'memorySize'] as const) {
    if (!Number.isInteger(r[k]) || r[k] < 0) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `${k} must be a non-negative integer, got ${r[k]}`);
  }
}

/**
 * One allocation: load the hosts in scope, filter them (each rejection keeps its reason), let the
 * strategy order the survivors, and reserve on the first that still has the capacity: the conditional
 * reservation of `host.ReserveCapacity` is the arbiter between concurrent allocations, and a loser
 * moves on to the next candidate rather than failing.
 */
export async function allocateHost(ctx: NodeContext, r: AllocateHostRequest): Promise<AllocateHostReply> {
  const { db } = ctx;
  checkRequest(r);
  let strategyName = r.allocatorStrategy;
  const requiredTags = new Set(r.requiredHostTags ?? []);
  if (r.instanceOfferingUuid) {
    const offering = await db.selectFrom('instance_offering').select(['uuid', 'allocatorStrategy']).where('uuid', '=', r.instanceOfferingUuid).executeTakeFirst();
    if (!offering) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find InstanceOffering[uuid:${r.instanceOfferingUuid}]`);
    strategyName ??= offering.allocatorStrategy as string;
    const tags = await db.selectFrom('system_tag').select('tag').where('resourceUuid', '=', r.instanceOfferingUuid).where('tag', 'like', `${HOST_TAG_PREFIX}%`).execute();
    for (const t of tags) requiredTags.add((t.tag as string).slice(HOST_TAG_PREFIX.length));
  }
  strategyName ??= DEFAULT_HOST_ALLOCATOR_STRATEGY;
  const strategy = ctx.extensions.strategy(HostAllocatorStrategyPoint, strategyName);

  let q = db.selectFrom('host').select(['uuid', 'name', 'zoneUuid', 'clusterUuid', 'hypervisorType', 'state', 'status', 'totalCpuCapacity', 'availableCpuCapacity', 'totalMemoryCapacity', 'availableMemoryCapacity']);
  if (r.zoneUuid) q = q.where('zoneUuid', '=', r.zoneUuid);
  if (r.clusterUuids?.length) q = q.where('clusterUuid', 'in', r.clusterUuids);
  if (r.hostUuid) q = q.where('uuid', '=', r.hostUuid);
  const hosts: HostCandidate[] = (await q.orderBy('uuid').execute()).map((h) => ({
    ...(h as unknown as HostCandidate),
    totalCpuCapacity: num(h.totalCpuCapacity), availableCpuCapacity: num(h.availableCpuCapacity), totalMemoryCapacity: num(h.totalMemoryCapacity), availableMemoryCapacity: num(h.availableMemoryCapacity),
  }));
  const want = `${r.cpuNum} CPU and ${r.memorySize} bytes of memory`;
  if (!hosts.length) {
    if (r.hostUuid && !(await db.selectFrom('host').select('uuid').where('uuid', '=', r.hostUuid).executeTakeFirst())) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find Host[uuid:${r.hostUuid}]`);
    const scope = [r.zoneUuid && `zone ${r.zoneUuid}`, r.clusterUuids?.length && `clusters [${r.clusterUuids.join(', ')}]`, r.hostUuid && `host ${r.hostUuid}`].filter(Boolean).join(', ');
    throw new StratoError(HostAllocatorErrors.NO_AVAILABLE_HOST, `no host can take ${want}: there is no host${scope ? ` in ${scope}` : ''}`);
  }

  const clusterUuids = [...new Set(hosts.map((h) => h.clusterUuid))];
  const clusters = await db.selectFrom('cluster').select(['uuid', 'state']).where('uuid', 'in', clusterUuids).execute();
  const hostTags = new Map<string, Set<string>>();
  if (requiredTags.size) {
    const uuids = hosts.map((h) => h.uuid);
    for (const table of ['user_tag', 'system_tag']) {
      for (const t of await db.selectFrom(table).select(['resourceUuid', 'tag']).where('resourceUuid', 'in', uuids).execute()) {
        const set = hostTags.get(t.resourceUuid as string) ?? new Set<string>();
        set.add(t.tag as string);
        hostTags.set(t.resourceUuid as string, set);
      }
    }
  }
  const memoryRatio = Number(ctx.config.get('mevoco', 'overProvisioning.memory') ?? 1);
  const memoryCharged = Math.ceil(r.memorySize / memoryRatio);
  const filters = hostFilters({ request: r, clusterStates: new Map(clusters.map((c) => [c.uuid as string, c.state as string])), hostTags, requiredTags: [...requiredTags], memoryCharged });
  const { candidates, rejected } = applyFilters(hosts, filters);
  const reasons = rejected.map((x) => `host ${x.host.name}[uuid:${x.host.uuid}]: ${x.reason}`);

  const ordered = candidates.length ? await strategy.sort(candidates, { request: r, random: Math.random }) : [];
  for (const host of ordered) {
    const reply = await ctx.bus.send('host', HostMessages.reserveCapacity, { hostUuid: host.uuid, cpuNum: r.cpuNum, memorySize: r.memorySize }, { resourceUuid: host.uuid });
    if (reply.success) return { hostUuid: host.uuid, clusterUuid: host.clusterUuid, zoneUuid: host.zoneUuid, cpuNum: r.cpuNum, memorySize: r.memorySize, allocatorStrategy: strategyName };
    reasons.push(`host ${host.name}[uuid:${host.uuid}]: the reservation failed (${reply.error.details ?? reply.error.description})`);
  }
  const shown = reasons.slice(0, MAX_REASONS).join('; ');
  const more = reasons.length > MAX_REASONS ? `; and ${reasons.length - MAX_REASONS} more` : '';
  throw new StratoError(HostAllocatorErrors.NO_AVAILABLE_HOST, `no host can take ${want} (${strategyName}); ${hosts.length} host(s) considered: ${shown}${more}`);
}
