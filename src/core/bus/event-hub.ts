import type { Logger } from 'pino';
import { requestContext } from './context.ts';
import type { BusMetrics } from './bus-metrics.ts';
import type { BusEvent, EventListener } from './message.ts';

/** Subscribers of one node, by event type ('*' receives every type). */
export class EventHub {
  private readonly listeners = new Map<string, Set<EventListener>>();

  constructor(
    private readonly metrics: BusMetrics,
    private readonly logger: Logger | undefined,
  ) {}

  subscribe(type: string, listener: EventListener): () => void {
    let set = this.listeners.get(type);
    if (set === undefined) this.listeners.set(type, (set = new Set()));
    // Wrap so that one function subscribed twice is two subscriptions, each removable on its own.
    const entry: EventListener = (body, event) => listener(body, event);
    set.add(entry);
    return () => {
      const s = this.listeners.get(type);
      if (s === undefined) return;
      s.delete(entry);
      if (s.size === 0) this.listeners.delete(type);
    };
  }

  /**
   * Call the subscribers present now, after the publisher's synchronous code and outside its
   * RequestContext (a remote subscriber has none either); one throwing never affects the others.
   */
  deliver(event: BusEvent): void {
    const exact = this.listeners.get(event.type);
    const any = this.listeners.get('*');
    if (exact === undefined && any === undefined) return;
    const targets = [...(exact ?? []), ...(any ?? [])];
    queueMicrotask(() => requestContext.exit(() => {
      for (const l of targets) {
        try {
          const r = l(event.body, event);
          if (r !== undefined && typeof (r as Promise<void>).then === 'function') (r as Promise<void>).then(undefined, (e: unknown) => this.failed(event, e));
        } catch (e) {
          this.failed(event, e);
        }
      }
    }));
  }

  private failed(event: BusEvent, e: unknown): void {
    this.metrics.listenerFailures.inc();
    this.logger?.warn({ err: e, event: event.type }, 'bus: event subscriber failed');
  }
}
