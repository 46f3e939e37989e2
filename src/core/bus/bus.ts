import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { StratoError, SysErrors, errorOf, isErrorCode, toErrorCode } from '../errors/error-code.ts';
import { requestContext, type RequestContext } from './context.ts';
import { BusMetrics, type ServiceMetrics } from './bus-metrics.ts';
import { DeadlineWheel } from './deadline-wheel.ts';
import { PendingCall, fail, ok, timeoutError, unwrap } from './pending-call.ts';
import { HashRing } from './ring.ts';
import { EventHub } from './event-hub.ts';
import type { BusEvent, EventListener, Interceptor, Message, Reply, SendOptions, ServiceDefinition } from './message.ts';
import type { Peer, Transport, WireEvent, WireMessage } from './transport.ts';

export interface BusOptions {
  /** This management node's UUID: its name on the hash ring. */
  nodeUuid: string;
  metrics: Registry;
  /** Timeout of a message sent outside any request, and upper bound for all (ZStack: 30 min for internal messages). */
  defaultTimeoutMs?: number;
  /** How peers are reached; without one, messages for resources owned elsewhere fail with SYS.1009. */
  transport?: Transport;
  logger?: Logger;
  /** Tests: JSON round-trip bodies and values in-process too, to catch payloads that would not survive HTTP. */
  jsonLocal?: boolean;
}

const EMPTY_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

interface RegisteredService {
  def: ServiceDefinition;
  metrics: ServiceMetrics;
}

/**
 * The message bus (ZStack's CloudBus): services register by id; `call`/`send` deliver a message
 * in-process, or over the transport to the management node owning `resourceUuid` on the hash ring;
 * every message has a deadline, inherited by whatever its handler sends; errors come back as data.
 *
 * @example
 *   const bus = new Bus({ nodeUuid, metrics: registry });
 *   bus.registerService({ id: 'zone', handle: async (msg) => ({ inventory: await createZone(msg.body) }) });
 *   const { inventory } = await bus.call<{ inventory: ZoneInventory }>('zone', 'CreateZone', { name: 'z1' });
 */
export class Bus {
  readonly nodeUuid: string;
  private readonly ring: HashRing;
  private readonly services = new Map<string, RegisteredService>();
  private interceptors: Interceptor[] = [];
  private readonly peers = new Map<string, Peer>();
  private readonly remoteCalls = new Map<string, Set<PendingCall>>();
  private readonly wheel = new DeadlineWheel<PendingCall>();
  private readonly metrics: BusMetrics;
  private readonly events: EventHub;
  private readonly defaultTimeoutMs: number;
  private readonly transport: Transport | undefined;
  private readonly logger: Logger | undefined;
  private readonly jsonLocal: boolean;
  private readonly idPrefix = randomBytes(8).toString('hex');
  private idCounter = 0;

  constructor(opts: BusOptions) {
    this.nodeUuid = opts.nodeUuid;
    this.ring = new HashRing([opts.nodeUuid]);
    this.metrics = new BusMetrics(opts.metrics);
    this.defaultTimeoutMs = opts.defaultTimeoutMs ?? 30 * 60_000;
    this.transport = opts.transport;
    this.logger = opts.logger;
    this.jsonLocal = opts.jsonLocal ?? false;
    this.events = new EventHub(this.metrics, this.logger);
  }

  /** Register a service; returns a function that unregisters it. A second service with the same id is refused. */
  registerService(def: ServiceDefinition): () => void {
    if (this.services.has(def.id)) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `service ${def.id} is already registered on the bus`);
    const entry = { def, metrics: this.metrics.forService(def.id) };
    this.services.set(def.id, entry);
    return () => {
      if (this.services.get(def.id) === entry) this.services.delete(def.id);
    };
  }

  /** Interceptors run on the handling node, in registration order. */
  addInterceptor(interceptor: Interceptor): () => void {
    this.interceptors = [...this.interceptors, interceptor];
    return () => {
      this.interceptors = this.interceptors.filter((i) => i !== interceptor);
    };
  }

  /** Send and resolve with the reply value; a failure reply rejects with a StratoError carrying its errorCode. */
  call<R = unknown>(service: string, type: string, body: unknown, opts?: SendOptions): Promise<R> {
    return this.send(service, type, body, opts).then(unwrap);
  }

  /** Send and resolve with the reply, success or failure; never rejects. */
  send<V = unknown>(service: string, type: string, body: unknown, opts?: SendOptions): Promise<Reply<V>> {
    const now = Date.now();
    const ctx = requestContext.getStore();
    let deadline = now + (opts?.timeoutMs ?? this.defaultTimeoutMs);
    if (ctx !== undefined && ctx.deadline < deadline) deadline = ctx.deadline;
    const msg: Message = {
      id: this.nextId(),
      service,
      type,
      body: this.jsonLocal ? JSON.parse(JSON.stringify(body ?? null)) : body,
      resourceUuid: opts?.resourceUuid,
      deadline,
      caller: ctx?.caller,
      apiId: ctx?.apiId,
      headers: opts?.headers ?? EMPTY_HEADERS,
    };
    // A message whose deadline already passed is never delivered: nested sends fail fast.
    if (deadline <= now) {
      this.metrics.timeouts.inc();
      return Promise.resolve(fail(timeoutError(msg, 'was not sent: its deadline had already passed')) as Reply<V>);
    }
    const target = opts?.nodeUuid ?? (msg.resourceUuid !== undefined && this.ring.size > 1 ? this.ring.owner(msg.resourceUuid)! : this.nodeUuid);
    return new Promise<Reply<V>>((resolve) => {
      const pc = new PendingCall(msg, resolve as (r: Reply) => void, this);
      this.metrics.pendingCalls++;
      this.wheel.add(pc, deadline);
      if (target === this.nodeUuid) {
        this.deliver(msg).then((reply) => this.settle(pc, this.jsonLocal ? JSON.parse(JSON.stringify(reply)) : reply, false));
      } else {
        this.sendRemote(pc, target);
      }
    });
  }

  /** Broadcast an event to every subscriber on this node and on every peer. Never rejects. */
  publish<B = unknown>(type: string, body: B): Promise<void> {
    const event: WireEvent = { id: this.nextId(), type, body, sourceNodeUuid: this.nodeUuid };
    this.metrics.eventsPublished.inc();
    this.events.deliver(event as BusEvent);
    if (this.transport === undefined || this.peers.size === 0) return Promise.resolve();
    const sends = [...this.peers.values()].map((peer) =>
      this.transport!.publishEvent(peer, event).catch((e: unknown) => {
        this.metrics.remoteSendFailures.inc();
        this.logger?.warn({ err: e, event: type, peer: peer.uuid }, 'bus: could not publish event to peer');
      }),
    );
    return Promise.all(sends).then(() => undefined);
  }

  /** Listen to events of `type` ('*' for all) from every node; returns the unsubscribe function. */
  subscribe<B = unknown>(type: string, listener: EventListener<B>): () => void {
    return this.events.subscribe(type, listener as EventListener);
  }

  /** The management node owning `resourceUuid` on the ring (ZStack's makeDestination). */
  ownerOf(resourceUuid: string): string {
    return this.ring.owner(resourceUuid) ?? this.nodeUuid;
  }

  /** Whether this node owns `resourceUuid` (ZStack's isManagedByUs): trackers use it to pick their resources. */
  isOwnedHere(resourceUuid: string): boolean {
    return this.ownerOf(resourceUuid) === this.nodeUuid;
  }

  /**
   * Replace the address book and ring membership with this node plus `peers` (entries for this node
   * are ignored). Calls in flight to nodes no longer listed fail with SYS.1012.
   */
  setPeers(peers: Peer[]): void {
    const next = new Map(peers.filter((p) => p.uuid !== this.nodeUuid).map((p) => [p.uuid, p]));
    for (const uuid of this.peers.keys()) if (!next.has(uuid)) this.failCallsTo(uuid);
    this.peers.clear();
    for (const [uuid, p] of next) this.peers.set(uuid, p);
    this.ring.setNodes([this.nodeUuid, ...next.keys()]);
  }

  addPeer(peer: Peer): void {
    if (peer.uuid === this.nodeUuid) return;
    this.peers.set(peer.uuid, peer);
    this.ring.add(peer.uuid);
  }

  removePeer(uuid: string): void {
    if (!this.peers.delete(uuid)) return;
    this.ring.remove(uuid);
    this.failCallsTo(uuid);
  }

  listPeers(): Peer[] {
    return [...this.peers.values()];
  }

  /** Handle a message that arrived from a peer: delivered here without re-routing, deadline rebuilt from the remaining time. */
  receiveMessage(wire: WireMessage): Promise<Reply> {
    if (typeof wire?.service !== 'string' || typeof wire.type !== 'string' || typeof wire.timeoutMs !== 'number' || typeof wire.id !== 'string') {
      return Promise.resolve(fail(errorOf(SysErrors.INVALID_ARGUMENT_ERROR, 'malformed bus message')));
    }
    const msg: Message = {
      id: wire.id,
      service: wire.service,
      type: wire.type,
      body: wire.body,
      resourceUuid: wire.resourceUuid,
      deadline: Date.now() + wire.timeoutMs,
      caller: wire.caller,
      apiId: wire.apiId,
      headers: wire.headers ?? EMPTY_HEADERS,
    };
    if (wire.timeoutMs <= 0) return Promise.resolve(fail(timeoutError(msg, 'arrived after its deadline')));
    return this.deliver(msg);
  }

  /** Hand an event that arrived from a peer to this node's subscribers (never re-broadcast). */
  receiveEvent(event: WireEvent): void {
    if (typeof event?.type !== 'string') return;
    this.events.deliver(event as BusEvent);
  }

  /** Fail every pending call with SYS.1012 and stop the deadline timer. */
  close(): void {
    for (const pc of this.wheel.drain()) this.settle(pc, fail(errorOf(SysErrors.MANAGEMENT_NODE_UNAVAILABLE_ERROR, 'the bus was closed')), false);
  }

  /** @internal Settle a pending call once: the first of reply, timeout or node loss wins; a late reply is dropped. */
  settle(pc: PendingCall, reply: Reply, timedOut: boolean): void {
    if (pc.settled) {
      if (!timedOut) this.metrics.lateReplies.inc();
      return;
    }
    pc.settled = true;
    this.metrics.pendingCalls--;
    if (timedOut) this.metrics.timeouts.inc();
    else this.wheel.delete(pc);
    if (pc.peerUuid !== undefined) this.remoteCalls.get(pc.peerUuid)?.delete(pc);
    pc.resolve(reply);
  }

  /** Run interceptors and the handler inside a RequestContext carrying the message's deadline; never rejects. */
  private deliver(msg: Message): Promise<Reply> {
    const svc = this.services.get(msg.service);
    if (svc === undefined) {
      return Promise.resolve(fail(errorOf(SysErrors.NO_ROUTE_ERROR, `no service ${msg.service} on management node ${this.nodeUuid}`)));
    }
    const ctx: RequestContext = { deadline: msg.deadline, caller: msg.caller, apiId: msg.apiId };
    const started = performance.now();
    this.metrics.inFlight++;
    // Anonymous callbacks and a method, not a named closure: tsx keeps function names by calling
    // Object.defineProperty on every named closure, a cost paid on every message.
    return requestContext
      .run(ctx, runHandler, this.interceptors, 0, svc.def, msg)
      .then(
        (value) => this.delivered(svc, msg, started, ok(value)),
        (e: unknown) => {
          if (!(e instanceof StratoError) && !isErrorCode(e)) this.logger?.warn({ err: e, service: msg.service, type: msg.type }, 'bus: handler failed with an unexpected exception');
          return this.delivered(svc, msg, started, fail(toErrorCode(e)));
        },
      );
  }

  /** Metrics and `afterReply` interceptors for a handled message. */
  private delivered(svc: RegisteredService, msg: Message, started: number, reply: Reply): Reply {
    this.metrics.inFlight--;
    svc.metrics.handled.inc();
    if (!reply.success) svc.metrics.failed.inc();
    svc.metrics.seconds.observe((performance.now() - started) / 1000);
    for (const i of this.interceptors) {
      if (i.afterReply === undefined) continue;
      try {
        i.afterReply(msg, reply);
      } catch (e) {
        this.logger?.warn({ err: e, interceptor: i.name }, 'bus: afterReply interceptor threw');
      }
    }
    return reply;
  }

  private sendRemote(pc: PendingCall, nodeUuid: string): void {
    const peer = this.peers.get(nodeUuid);
    if (peer === undefined || this.transport === undefined) {
      this.settle(pc, fail(errorOf(SysErrors.NO_ROUTE_ERROR, `no address for management node ${nodeUuid}`)), false);
      return;
    }
    pc.peerUuid = nodeUuid;
    let set = this.remoteCalls.get(nodeUuid);
    if (set === undefined) this.remoteCalls.set(nodeUuid, (set = new Set()));
    set.add(pc);
    const m = pc.msg;
    const wire: WireMessage = {
      id: m.id, service: m.service, type: m.type, body: m.body, resourceUuid: m.resourceUuid,
      timeoutMs: m.deadline - Date.now(), caller: m.caller, apiId: m.apiId, headers: m.headers, sourceNodeUuid: this.nodeUuid,
    };
    this.transport.sendMessage(peer, wire).then(
      (reply) => this.settle(pc, reply, false),
      (e: unknown) => {
        if (pc.settled) return; // aborted because the call already timed out
        this.metrics.remoteSendFailures.inc();
        const error = e instanceof StratoError ? e.errorCode : errorOf(SysErrors.MANAGEMENT_NODE_UNAVAILABLE_ERROR, `cannot reach management node ${nodeUuid}: ${(e as Error)?.message ?? String(e)}`);
        this.settle(pc, fail(error), false);
      },
    );
  }

  private failCallsTo(uuid: string): void {
    const set = this.remoteCalls.get(uuid);
    this.remoteCalls.delete(uuid);
    if (set === undefined) return;
    for (const pc of set) this.settle(pc, fail(errorOf(SysErrors.MANAGEMENT_NODE_UNAVAILABLE_ERROR, `management node ${uuid} left while handling ${pc.msg.type}`)), false);
  }

  /** 32 hex: a random per-bus prefix and a counter; unique without a UUID per message. */
  private nextId(): string {
    return this.idPrefix + (++this.idCounter).toString(16).padStart(16, '0');
  }
}

/** Interceptors from index `i` on, then the handler. Stays synchronous until an interceptor returns a promise. */
function runHandler(interceptors: Interceptor[], i: number, def: ServiceDefinition, msg: Message): Promise<unknown> {
  try {
    for (; i < interceptors.length; i++) {
      const before = interceptors[i].beforeDeliver;
      if (before === undefined) continue;
      const r = before.call(interceptors[i], msg);
      if (r !== undefined && typeof (r as Promise<void>).then === 'function') {
        const next = i + 1;
        return (r as Promise<void>).then(() => runHandler(interceptors, next, def, msg));
      }
    }
    return Promise.resolve(def.handle(msg));
  } catch (e) {
    return Promise.reject(e);
  }
}
