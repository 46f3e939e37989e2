import type { HostCandidate } from '../../contracts/host-allocator.ts';

/** How long a loaded view answers before the next allocation in its scope reloads it, for strategies that rank hosts by capacity. */
export const HOST_VIEW_TTL_MS = 1000;
/**
 * The same for strategies whose order ignores capacity (default, last-host-preferred): for them the view
 * only says which hosts may qualify, and every pick is re-read before its reservation. Reloading every
 * second cost ≈ 0.4 ms of CPU per create at 10,000 hosts. What would make a view miss a host is cleared
 * at once instead (see `index.ts`): a status change, an add, a state change, a (re)connect.
 */
export const CAPACITY_BLIND_VIEW_TTL_MS = 10_000;
/** Scopes kept at once (a scope is a zone and its list of candidate clusters). */
const MAX_VIEWS = 64;

/** One scope's hosts as last read, with their clusters' states; capacities move as this node reserves and releases. */
export interface HostView {
  readonly loadedAt: number;
  readonly hosts: HostCandidate[];
  readonly byUuid: Map<string, HostCandidate>;
  readonly clusterStates: Map<string, string>;
  /** Some host was between states when read (Connecting, PreMaintenance): its end may come without an event, so the view is kept only `HOST_VIEW_TTL_MS`. */
  readonly unsettled?: boolean;
}

const UNSETTLED = (h: HostCandidate) => h.status === 'Connecting' || h.state === 'PreMaintenance';

/**
 * The allocator's in-memory picture of the hosts, one per scope, so that an allocation does not read
 * every host row of its zone (1,000 hosts: ≈ 3 ms of CPU per allocation). It is a hint, never the
 * arbiter: the allocator re-reads the host it picked before reserving, the reservation stays the host
 * service's conditional UPDATE, and an allocation that finds nothing in the view reloads from the
 * database before it fails. What a view can get wrong in between (a host added, or capacity given back
 * by another path or node, less than `HOST_VIEW_TTL_MS` ago) changes only which host is preferred.
 */
export class HostViews {
  readonly #views = new Map<string, HostView>();
  readonly #ttlMs: number;

  constructor(ttlMs = HOST_VIEW_TTL_MS) {
    this.#ttlMs = ttlMs;
  }

  readonly #loading = new Map<string, Promise<HostView>>();

  /**
   * The view of `scope`, read by `load` when it is missing or older than `ttlMs` (the constructor's TTL by default). One read at a time
   * per scope: allocations arriving meanwhile wait for it instead of each reading every host.
   */
  async obtain(scope: string, load: () => Promise<{ hosts: HostCandidate[]; clusterStates: ReadonlyMap<string, string> }>, ttlMs = this.#ttlMs): Promise<HostView> {
    const v = this.#views.get(scope);
    if (v && Date.now() - v.loadedAt < (v.unsettled ? Math.min(ttlMs, HOST_VIEW_TTL_MS) : ttlMs)) return v;
    let pending = this.#loading.get(scope);
    if (!pending) {
      const loadedAt = Date.now();
      pending = load()
        .then((r) => this.put(scope, r.hosts, r.clusterStates, loadedAt))
        .finally(() => this.#loading.delete(scope));
      this.#loading.set(scope, pending);
    }
    return pending;
  }

  /** Keeps a copy of freshly read hosts as the view of `scope`. */
  put(scope: string, hosts: readonly HostCandidate[], clusterStates: ReadonlyMap<string, string>, loadedAt = Date.now()): HostView {
    this.#views.delete(scope);
    const copies = hosts.map((h) => ({ ...h }));
    const view = { loadedAt, hosts: copies, byUuid: new Map(copies.map((h) => [h.uuid, h])), clusterStates: new Map(clusterStates), unsettled: copies.some(UNSETTLED) };
    this.#views.set(scope, view);
    if (this.#views.size > MAX_VIEWS) this.#views.delete(this.#views.keys().next().value as string);
    return view;
  }

  /** Applies a change of one host's capacity this node made (negative: reserved; positive: given back, never above the total). */
  adjust(hostUuid: string, cpu: number, memory: number): void {
    for (const v of this.#views.values()) {
      const h = v.byUuid.get(hostUuid);
      if (!h) continue;
      h.availableCpuCapacity = Math.min(h.totalCpuCapacity, h.availableCpuCapacity + cpu);
      h.availableMemoryCapacity = Math.min(h.totalMemoryCapacity, h.availableMemoryCapacity + memory);
    }
  }

  /** Forget everything (a host's status changed somewhere). */
  clear(): void {
    this.#views.clear();
  }
}

/** The key of an allocation's scope. */
export const scopeKey = (zoneUuid: string | undefined, clusterUuids: readonly string[] | undefined) => `${zoneUuid ?? '*'}|${clusterUuids?.length ? [...clusterUuids].sort().join(',') : '*'}`;
