import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Per-service children, bound once at registration so handling a message does no label lookups. */
export interface ServiceMetrics {
  handled: { inc(): void };
  failed: { inc(): void };
  seconds: { observe(v: number): void };
}

export class BusMetrics {
  /** Messages being handled on this node (read by the gauge at scrape time). */
  inFlight = 0;
  /** Calls sent from this node still waiting for their reply. */
  pendingCalls = 0;
  readonly timeouts: Counter;
  readonly lateReplies: Counter;
  readonly eventsPublished: Counter;
  readonly listenerFailures: Counter;
  readonly remoteSendFailures: Counter;
  private readonly handled: Counter<'service'>;
  private readonly failed: Counter<'service'>;
  private readonly seconds: Histogram<'service'>;

  constructor(registry: Registry) {
    const registers = [registry];
    // prom-client calls collect() with the gauge as `this`; read our counts through the closure instead.
    const self = this; // eslint-disable-line @typescript-eslint/no-this-alias
    new Gauge({ name: 'strato_bus_messages_in_flight', help: 'Messages being handled on this node', registers, collect() { this.set(self.inFlight); } });
    new Gauge({ name: 'strato_bus_pending_calls', help: 'Messages sent from this node waiting for a reply', registers, collect() { this.set(self.pendingCalls); } });
    this.handled = new Counter({ name: 'strato_bus_messages_handled_total', help: 'Messages handled on this node, by service', labelNames: ['service'], registers });
    this.failed = new Counter({ name: 'strato_bus_message_failures_total', help: 'Messages whose reply was an error, by service', labelNames: ['service'], registers });
    this.seconds = new Histogram({
      name: 'strato_bus_message_handling_seconds',
      help: 'Time from delivery to reply on the handling node, by service',
      labelNames: ['service'],
      buckets: [0.0001, 0.001, 0.01, 0.1, 1, 10, 60, 600],
      registers,
    });
    this.timeouts = new Counter({ name: 'strato_bus_timeouts_total', help: 'Calls that failed because their deadline passed', registers });
    this.lateReplies = new Counter({ name: 'strato_bus_late_replies_total', help: 'Replies dropped because their call had already timed out', registers });
    this.eventsPublished = new Counter({ name: 'strato_bus_events_published_total', help: 'Events published from this node', registers });
    this.listenerFailures = new Counter({ name: 'strato_bus_event_listener_failures_total', help: 'Event subscribers that threw', registers });
    this.remoteSendFailures = new Counter({ name: 'strato_bus_remote_send_failures_total', help: 'Messages or events that could not be delivered to a peer node', registers });
  }

  forService(service: string): ServiceMetrics {
    return { handled: this.handled.labels(service), failed: this.failed.labels(service), seconds: this.seconds.labels(service) };
  }
}
