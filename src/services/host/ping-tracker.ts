import { HostAgentPaths, HostMessages } from '../../contracts/host.ts';
import type { ConfigHandle } from '../../core/config/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { reachHost } from './host-agent.ts';

/**
 * ZStack's HostTracker: every `host.ping.interval` seconds, ping each host this node owns on the ring.
 * A failed ping marks a Connected host Disconnected; with `host.connection.autoReconnectOnError` a
 * Disconnected host is reconnected (through its queue). Hosts being connected are left alone.
 *
 * The first round runs as the node starts (a restarted node learns at once which hosts still answer,
 * as ZStack's `host.load.all` does at boot), at most PARALLELISM pings in flight. Later rounds spread
 * their pings evenly across the interval instead of sending all at once: with 10,000 hosts a round
 * at once meant 10,000 concurrent calls every minute (a burst of CPU, memory and event-loop lag that
 * API calls queued behind); spread, it is ≈ 170 pings a second.
 */
const PARALLELISM = 100;
/** Spread rounds send a slice of their hosts this often. */
const TICK_MS = 250;

export class HostPingTracker {
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #round: Promise<void> = Promise.resolve();
  #running = false;
  #offChange: (() => void) | undefined;
  /** Set when the interval changes or the tracker stops mid-round: the round sends the rest at once (or stops). */
  #hurry = false;
  #wake: (() => void) | undefined;

  constructor(
    private readonly ctx: NodeContext,
    private readonly interval: ConfigHandle<number>,
    private readonly autoReconnect: ConfigHandle<boolean>,
    private readonly setStatus: (uuid: string, status: 'Disconnected', reason: string) => Promise<void>,
  ) {}

  start(): void {
    // A new interval applies at once, not after the old one has elapsed once more.
    this.#offChange = this.interval.onChange(() => {
      if (this.#stopped) return;
      if (this.#running) {
        // A spread round would go on at the old pace: it sends the rest now, and the next follows the new interval.
        this.#hurry = true;
        this.#wake?.();
        return;
      }
      if (this.#timer) clearTimeout(this.#timer);
      this.#schedule(this.interval.get() * 1000, true);
    });
    this.#schedule(0, false);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#offChange?.();
    if (this.#timer) clearTimeout(this.#timer);
    this.#wake?.();
    await this.#round;
  }

  #schedule(delayMs: number, spread: boolean): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#running = true;
      this.#hurry = false;
      const started = Date.now();
      this.#round = (spread ? this.#spreadRound() : this.pingAll())
        .catch((err) => this.ctx.log.warn({ err }, 'host ping round failed'))
        .finally(() => {
          this.#running = false;
          // Rounds start an interval apart (a spread round already took most of it).
          const intervalMs = this.interval.get() * 1000;
          this.#schedule(this.#hurry ? intervalMs : Math.max(0, started + intervalMs - Date.now()), true);
        });
    }, delayMs);
    this.#timer.unref();
  }

  async #ownHosts(): Promise<Array<{ uuid: string; status: string }>> {
    const { db, bus } = this.ctx;
    const rows = await db.selectFrom('host').select(['uuid', 'status']).where('status', '!=', 'Connecting').execute();
    return rows.filter((r) => bus.isOwnedHere(r.uuid as string)) as Array<{ uuid: string; status: string }>;
  }

  /** Every host now, at most PARALLELISM in flight (the first round; also called by tests). */
  async pingAll(): Promise<void> {
    const mine = await this.#ownHosts();
    let next = 0;
    await Promise.all(Array.from({ length: Math.min(PARALLELISM, mine.length) }, async () => {
      while (next < mine.length && !this.#stopped) {
        const h = mine[next++];
        await this.#pingOne(h.uuid, h.status);
      }
    }));
  }

  /** Every host once, in slices sent TICK_MS apart across the interval. */
  async #spreadRound(): Promise<void> {
    const mine = await this.#ownHosts();
    const ticks = Math.max(1, Math.min(mine.length, Math.floor((this.interval.get() * 1000) / TICK_MS)));
    const perTick = Math.ceil(mine.length / ticks);
    const inFlight: Array<Promise<void>> = [];
    for (let i = 0; i < mine.length && !this.#stopped; i += perTick) {
      if (i > 0 && !this.#hurry) await new Promise<void>((r) => {
        const t = setTimeout(r, TICK_MS);
        this.#wake = () => {
          clearTimeout(t);
          r();
        };
      });
      this.#wake = undefined;
      if (this.#stopped) break;
      inFlight.push(...mine.slice(i, i + perTick).map((h) => this.#pingOne(h.uuid, h.status)));
    }
    await Promise.all(inFlight);
  }

  async #pingOne(uuid: string, status: string): Promise<void> {
    const { db, extensions, agents, bus } = this.ctx;
    let ok = true;
    let reason = '';
    try {
      const { endpoint } = await reachHost(db, extensions, uuid);
      const r = await agents.call(endpoint, HostAgentPaths.ping, { hostUuid: uuid }, { timeoutMs: Math.max(1000, this.interval.get() * 1000) });
      if (r.hostUuid !== undefined && r.hostUuid !== uuid) throw new Error(`the agent answers for host ${String(r.hostUuid)}`);
    } catch (e) {
      ok = false;
      reason = e instanceof Error ? e.message : String(e);
    }
    if (this.#stopped) return;
    if (!ok && status === 'Connected') await this.setStatus(uuid, 'Disconnected', reason);
    if ((!ok || status === 'Disconnected') && this.autoReconnect.get()) {
      // ZStack reconnects a host whose ping failed, and one that answers again after being disconnected.
      const r = await bus.send('host', HostMessages.reconnect, { uuid }, { resourceUuid: uuid });
      if (!r.success) this.ctx.log.info({ host: uuid, error: r.error }, 'automatic reconnect failed');
    }
  }
}
