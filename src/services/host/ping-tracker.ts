import { HostAgentPaths, HostMessages } from '../../contracts/host.ts';
import type { ConfigHandle } from '../../core/config/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { reachHost } from './host-agent.ts';

/**
 * ZStack's HostTracker: every `host.ping.interval` seconds, ping each host this node owns on the ring.
 * A failed ping marks a Connected host Disconnected; with `host.connection.autoReconnectOnError` a
 * Disconnected host is reconnected (through its queue). Hosts being connected are left alone.
 */
export class HostPingTracker {
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #round: Promise<void> = Promise.resolve();
  #running = false;
  #offChange: (() => void) | undefined;

  constructor(
    private readonly ctx: NodeContext,
    private readonly interval: ConfigHandle<number>,
    private readonly autoReconnect: ConfigHandle<boolean>,
    private readonly setStatus: (uuid: string, status: 'Disconnected', reason: string) => Promise<void>,
  ) {}

  start(): void {
    // A new interval applies at once, not after the old one has elapsed once more.
    this.#offChange = this.interval.onChange(() => {
      if (this.#running || this.#stopped) return;
      if (this.#timer) clearTimeout(this.#timer);
      this.#schedule();
    });
    this.#schedule();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#offChange?.();
    if (this.#timer) clearTimeout(this.#timer);
    await this.#round;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#running = true;
      this.#round = this.pingAll()
        .catch((err) => this.ctx.log.warn({ err }, 'host ping round failed'))
        .finally(() => {
          this.#running = false;
          this.#schedule();
        });
    }, this.interval.get() * 1000);
    this.#timer.unref();
  }

  /** One round (also called by tests). */
  async pingAll(): Promise<void> {
    const { db, bus } = this.ctx;
    const rows = await db.selectFrom('host').select(['uuid', 'status']).where('status', '!=', 'Connecting').execute();
    const mine = rows.filter((r) => bus.isOwnedHere(r.uuid as string));
    await Promise.all(mine.map((r) => this.#pingOne(r.uuid as string, r.status as string)));
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
