import { HostAllocatorErrors, HostAllocatorStrategyPoint, type AllocateHostReply, type AllocateHostRequest, type HostAllocatorStrategy, type HostCandidate } from '../../contracts/host-allocator.ts';
import { HostMessages } from '../../contracts/host.ts';
import { DEFAULT_HOST_ALLOCATOR_STRATEGY } from '../../contracts/offering.ts';
import { readCache } from '../../core/db/index.ts';
import { rowsOfText } from '../../core/db/rows-by-key.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { applyFilters, hostFilters, type HostFilter } from './filters.ts';
import { CAPACITY_BLIND_VIEW_TTL_MS, scopeKey, type HostView, type HostViews } from './host-view.ts';
import { defaultStrategy, lastHostPreferred } from './strategies.ts';

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
    const offeringUuid = r.instanceOfferingUuid;
    // An offering and its tags change only when an operator edits them: cached until their tables are written.
    const { offering, tags } = await readCache(db).get(`hostAllocator.offering:${offeringUuid}`, ['instance_offering', 'system_tag'], async () => ({
      offering: await db.selectFrom('instance_offering').select(['uuid', 'allocatorStrategy']).where('uuid', '=', offeringUuid).executeTakeFirst(),
      tags: await db.selectFrom('system_tag').select('tag').where('resourceUuid', '=', offeringUuid).where('tag', 'like', `${HOST_TAG_PREFIX}%`).execute(),
    }));
    if (!offering) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find InstanceOffering[uuid:${offeringUuid}]`);
    strategyName ??= offering.allocatorStrategy as string;
    for (const t of tags) requiredTags.add((t.tag as string).slice(HOST_TAG_PREFIX.length));
  }
  strategyName ??= DEFAULT_HOST_ALLOCATOR_STRATEGY;
  const strategy = ctx.extensions.strategy(HostAllocatorStrategyPoint, strategyName);
  const memoryRatio = Number(ctx.config.get('mevoco', 'overProvisioning.memory') ?? 1);
  const memoryCharged = Math.ceil(r.memorySize / memoryRatio);
  const scope = scopeKey(r.zoneUuid, r.clusterUuids);
  // A named host or required tags make a small or unusual scope: read it fresh.
  if (views && !r.hostUuid && !requiredTags.size) {
    const capacityBlind = strategy === defaultStrategy || strategy === lastHostPreferred;
    const view = await views.obtain(scope, () => loadHosts(db, r), capacityBlind ? CAPACITY_BLIND_VIEW_TTL_MS : undefined);
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

/** Views smaller than this are filtered whole; larger ones are sampled by the random strategies. */
const SAMPLE_ABOVE = 64;
/** Random probes into a large view before it is filtered whole. */
const MAX_PROBES = 64;

/**
 * For the strategies that order hosts at random (default, last-host-preferred after the last host), up
 * to `VIEW_TRIES` qualifying hosts drawn at random from a large view, instead of filtering every host of
 * the zone per allocation (O(hosts): ≈ 1–2 ms of CPU at 10,000 hosts). Rejection sampling keeps the
 * pick uniform among the hosts that qualify, as the strategies' shuffle of all of them was, and a
 * last host that qualifies is kept, so the strategy still puts it first (ZStack's allocator also
 * limits its candidates). Undefined (filter the whole view) for ordered strategies, small views, or
 * when the probes found nothing (few hosts qualify).
 */
export function sampleQualifying(view: HostView, filters: readonly HostFilter[], strategy: HostAllocatorStrategy, lastHostUuid?: string): HostCandidate[] | undefined {
  const n = view.hosts.length;
  if (n <= SAMPLE_ABOVE || (strategy !== defaultStrategy && strategy !== lastHostPreferred)) return undefined;
  const qualifies = (h: HostCandidate) => filters.every((f) => f.reject(h) === undefined);
  const out: HostCandidate[] = [];
  const seen = new Set<HostCandidate>();
  const last = lastHostUuid ? view.byUuid.get(lastHostUuid) : undefined;
  if (strategy === lastHostPreferred && last && qualifies(last)) {
    out.push(last);
    seen.add(last);
  }
  for (let i = 0; i < MAX_PROBES && out.length < VIEW_TRIES; i++) {
    const h = view.hosts[Math.floor(Math.random() * n)];
    if (seen.has(h)) continue;
    seen.add(h);
    if (qualifies(h)) out.push(h);
  }
  return out.length ? out : undefined;
}

/** One picked host as it is now, with its cluster's state (once per allocation: SQL text built once). */
const FRESH_HOST_SQL = 'select h.`state`, h.`status`, h.`hypervisorType`, h.`totalCpuCapacity`, h.`availableCpuCapacity`, h.`totalMemoryCapacity`, h.`availableMemoryCapacity`, c.`state` as `clusterState` '
  + 'from `host` as h inner join `cluster` as c on c.`uuid` = h.`clusterUuid` where h.`uuid` = ?';

/**
 * The fast path: filter and order the view's hosts, then for each pick, re-read that one host (and its
 * cluster's state) and reserve on it if it still qualifies. Undefined when nothing in the view worked:
 * the caller then decides on fresh rows, so a failure is never reported from a stale view.
 */
async function allocateFromView(ctx: NodeContext, r: AllocateHostRequest, view: HostView, o: { strategy: HostAllocatorStrategy; strategyName: string; memoryCharged: number }): Promise<AllocateHostReply | undefined> {
  const filters = hostFilters({ request: r, clusterStates: view.clusterStates, hostTags: new Map(), requiredTags: [], memoryCharged: o.memoryCharged });
  const candidates = sampleQualifying(view, filters, o.strategy, r.lastHostUuid) ?? applyFilters(view.hosts, filters).candidates;
  if (!candidates.length) return undefined;
  const ordered = await o.strategy.sort(candidates, { request: r, random: Math.random });
  for (const host of ordered.slice(0, VIEW_TRIES)) {
    const [fresh] = await rowsOfText(ctx.db, FRESH_HOST_SQL, [host.uuid]);
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
