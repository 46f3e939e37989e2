import { HostAllocatorErrors, HostAllocatorStrategyPoint, type AllocateHostReply, type AllocateHostRequest, type HostAllocatorStrategy, type HostCandidate } from '../../contracts/host-allocator.ts';
import { HostMessages } from '../../contracts/host.ts';
import { DEFAULT_HOST_ALLOCATOR_STRATEGY } from '../../contracts/offering.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { applyFilters, hostFilters } from './filters.ts';
import { scopeKey, type HostView, type HostViews } from './host-view.ts';

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
export async function allocateHost(ctx: NodeContext, r: AllocateHostRequest, views?: HostViews): Promise<AllocateHostReply> {
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
  const memoryRatio = Number(ctx.config.get('mevoco', 'overProvisioning.memory') ?? 1);
  const memoryCharged = Math.ceil(r.memorySize / memoryRatio);
  const scope = scopeKey(r.zoneUuid, r.clusterUuids);
  // A named host or required tags make a small or unusual scope: read it fresh.
  if (views && !r.hostUuid && !requiredTags.size) {
    const view = await views.obtain(scope, () => loadHosts(db, r));
    const picked = await allocateFromView(ctx, r, view, { strategy, strategyName, memoryCharged });
    if (picked) {
      views.adjust(picked.hostUuid, -r.cpuNum, -memoryCharged);
      return picked;
    }
  }

  const { hosts, clusterStates } = await loadHosts(db, r);
  const want = `${r.cpuNum} CPU and ${r.memorySize} bytes of memory`;
  if (!hosts.length) {
    if (r.hostUuid && !(await db.selectFrom('host').select('uuid').where('uuid', '=', r.hostUuid).executeTakeFirst())) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find Host[uuid:${r.hostUuid}]`);
    const where = [r.zoneUuid && `zone ${r.zoneUuid}`, r.clusterUuids?.length && `clusters [${r.clusterUuids.join(', ')}]`, r.hostUuid && `host ${r.hostUuid}`].filter(Boolean).join(', ');
    throw new StratoError(HostAllocatorErrors.NO_AVAILABLE_HOST, `no host can take ${want}: there is no host${where ? ` in ${where}` : ''}`);
  }

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
  if (views && !r.hostUuid) views.put(scope, hosts, clusterStates);
  const filters = hostFilters({ request: r, clusterStates, hostTags, requiredTags: [...requiredTags], memoryCharged });
  const { candidates, rejected } = applyFilters(hosts, filters);
  const reasons = rejected.map((x) => `host ${x.host.name}[uuid:${x.host.uuid}]: ${x.reason}`);

  const ordered = candidates.length ? await strategy.sort(candidates, { request: r, random: Math.random }) : [];
  for (const host of ordered) {
    const reply = await ctx.bus.send('host', HostMessages.reserveCapacity, { hostUuid: host.uuid, cpuNum: r.cpuNum, memorySize: r.memorySize }, { resourceUuid: host.uuid });
    if (reply.success) {
      views?.adjust(host.uuid, -r.cpuNum, -memoryCharged);
      return { hostUuid: host.uuid, clusterUuid: host.clusterUuid, zoneUuid: host.zoneUuid, cpuNum: r.cpuNum, memorySize: r.memorySize, allocatorStrategy: strategyName, hypervisorType: host.hypervisorType };
    }
    reasons.push(`host ${host.name}[uuid:${host.uuid}]: the reservation failed (${reply.error.details ?? reply.error.description})`);
  }
  const shown = reasons.slice(0, MAX_REASONS).join('; ');
  const more = reasons.length > MAX_REASONS ? `; and ${reasons.length - MAX_REASONS} more` : '';
  throw new StratoError(HostAllocatorErrors.NO_AVAILABLE_HOST, `no host can take ${want} (${strategyName}); ${hosts.length} host(s) considered: ${shown}${more}`);
}

/** The hosts in the request's scope, ordered by uuid, and their clusters' states. */
async function loadHosts(db: NodeContext['db'], r: AllocateHostRequest): Promise<{ hosts: HostCandidate[]; clusterStates: Map<string, string> }> {
  let q = db.selectFrom('host').select(['uuid', 'name', 'zoneUuid', 'clusterUuid', 'hypervisorType', 'state', 'status', 'totalCpuCapacity', 'availableCpuCapacity', 'totalMemoryCapacity', 'availableMemoryCapacity']);
  if (r.zoneUuid) q = q.where('zoneUuid', '=', r.zoneUuid);
  if (r.clusterUuids?.length) q = q.where('clusterUuid', 'in', r.clusterUuids);
  if (r.hostUuid) q = q.where('uuid', '=', r.hostUuid);
  const hosts: HostCandidate[] = (await q.orderBy('uuid').execute()).map((h) => ({
    ...(h as unknown as HostCandidate),
    totalCpuCapacity: num(h.totalCpuCapacity), availableCpuCapacity: num(h.availableCpuCapacity), totalMemoryCapacity: num(h.totalMemoryCapacity), availableMemoryCapacity: num(h.availableMemoryCapacity),
  }));
  const clusterUuids = [...new Set(hosts.map((h) => h.clusterUuid))];
  const clusters = clusterUuids.length ? await db.selectFrom('cluster').select(['uuid', 'state']).where('uuid', 'in', clusterUuids).execute() : [];
  return { hosts, clusterStates: new Map(clusters.map((c) => [c.uuid as string, c.state as string])) };
}

/** At most this many hosts picked from a view are tried before the allocation reads the hosts afresh. */
const VIEW_TRIES = 5;

/**
 * The fast path: filter and order the view's hosts, then for each pick, re-read that one host (and its
 * cluster's state) and reserve on it if it still qualifies. Undefined when nothing in the view worked:
 * the caller then decides on fresh rows, so a failure is never reported from a stale view.
 */
async function allocateFromView(ctx: NodeContext, r: AllocateHostRequest, view: HostView, o: { strategy: HostAllocatorStrategy; strategyName: string; memoryCharged: number }): Promise<AllocateHostReply | undefined> {
  const filters = hostFilters({ request: r, clusterStates: view.clusterStates, hostTags: new Map(), requiredTags: [], memoryCharged: o.memoryCharged });
  const { candidates } = applyFilters(view.hosts, filters);
  if (!candidates.length) return undefined;
  const ordered = await o.strategy.sort(candidates, { request: r, random: Math.random });
  for (const host of ordered.slice(0, VIEW_TRIES)) {
    const fresh = await ctx.db.selectFrom('host as h').innerJoin('cluster as c', 'c.uuid', 'h.clusterUuid')
      .select(['h.state', 'h.status', 'h.hypervisorType', 'h.totalCpuCapacity', 'h.availableCpuCapacity', 'h.totalMemoryCapacity', 'h.availableMemoryCapacity', 'c.state as clusterState'])
      .where('h.uuid', '=', host.uuid).executeTakeFirst();
    const cached = view.byUuid.get(host.uuid)!;
    if (!fresh) {
      cached.state = 'Deleted';
      continue;
    }
    Object.assign(cached, {
      state: fresh.state, status: fresh.status, hypervisorType: fresh.hypervisorType,
      totalCpuCapacity: num(fresh.totalCpuCapacity), availableCpuCapacity: num(fresh.availableCpuCapacity), totalMemoryCapacity: num(fresh.totalMemoryCapacity), availableMemoryCapacity: num(fresh.availableMemoryCapacity),
    });
    view.clusterStates.set(cached.clusterUuid, fresh.clusterState as string);
    if (filters.some((f) => f.reject(cached) !== undefined)) continue;
    const reply = await ctx.bus.send('host', HostMessages.reserveCapacity, { hostUuid: host.uuid, cpuNum: r.cpuNum, memorySize: r.memorySize }, { resourceUuid: host.uuid });
    if (reply.success) return { hostUuid: host.uuid, clusterUuid: host.clusterUuid, zoneUuid: host.zoneUuid, cpuNum: r.cpuNum, memorySize: r.memorySize, allocatorStrategy: o.strategyName, hypervisorType: cached.hypervisorType };
  }
  return undefined;
}
