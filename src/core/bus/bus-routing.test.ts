import { describe, it, expect, afterEach } from 'vitest';
import { Registry } from 'prom-client';
import { Bus } from './bus.ts';
import { runWithContext } from './context.ts';
import type { Reply } from './message.ts';
import type { Peer, Transport, WireEvent, WireMessage } from './transport.ts';
import { newUuid } from '../util/uuid.ts';

const A = 'a'.repeat(32);
const B = 'b'.repeat(32);

/** An in-memory network: peers are Bus instances in this process, messages pass through JSON like on HTTP. */
class FakeNetwork {
  readonly nodes = new Map<string, Bus>();
  readonly sent: Array<{ to: string; msg: WireMessage }> = [];
  down = new Set<string>();
  transport(): Transport {
    return {
      sendMessage: async (peer: Peer, msg: WireMessage): Promise<Reply> => {
        this.sent.push({ to: peer.uuid, msg });
        if (this.down.has(peer.uuid)) throw new Error('connect ECONNREFUSED');
        return JSON.parse(JSON.stringify(await this.nodes.get(peer.uuid)!.receiveMessage(JSON.parse(JSON.stringify(msg)))));
      },
      publishEvent: async (peer: Peer, event: WireEvent) => {
        this.nodes.get(peer.uuid)!.receiveEvent(JSON.parse(JSON.stringify(event)));
      },
    };
  }
  node(uuid: string): Bus {
    const bus = new Bus({ nodeUuid: uuid, metrics: new Registry(), transport: this.transport() });
    this.nodes.set(uuid, bus);
    return bus;
  }
  connectAll(): void {
    const peers = [...this.nodes.keys()].map((uuid) => ({ uuid, url: `fake://${uuid}` }));
    for (const b of this.nodes.values()) b.setPeers(peers);
  }
}

let net: FakeNetwork;
afterEach(() => {
  for (const b of net.nodes.values()) b.close();
});

/** A resource UUID that the ring assigns to `node`. */
function uuidOwnedBy(bus: Bus, node: string): string {
  for (;;) {
    const u = newUuid();
    if (bus.ownerOf(u) === node) return u;
  }
}

describe('Bus routing on the hash ring', () => {
  it('sends a message to the node owning its resource, and handles locally what this node owns', async () => {
    net = new FakeNetwork();
    const a = net.node(A);
    const b = net.node(B);
    net.connectAll();
    for (const [bus, name] of [[a, 'A'], [b, 'B']] as const) {
      bus.registerService({ id: 'vm', handle: async (msg) => ({ handledOn: name, uuid: msg.resourceUuid }) });
    }
    const onB = uuidOwnedBy(a, B);
    const onA = uuidOwnedBy(a, A);
    expect(b.ownerOf(onB)).toBe(B); // both nodes agree
    expect(a.isOwnedHere(onA)).toBe(true);
    await expect(a.call('vm', 'StartVm', {}, { resourceUuid: onB })).resolves.toEqual({ handledOn: 'B', uuid: onB });
    await expect(a.call('vm', 'StartVm', {}, { resourceUuid: onA })).resolves.toEqual({ handledOn: 'A', uuid: onA });
    await expect(a.call('vm', 'StartVm', {})).resolves.toMatchObject({ handledOn: 'A' });
    await expect(a.call('vm', 'StartVm', {}, { nodeUuid: B })).resolves.toMatchObject({ handledOn: 'B' });
    expect(net.sent.map((s) => s.to)).toEqual([B, B]);
  });

  it('carries the remaining time, caller and API id to the owner', async () => {
    net = new FakeNetwork();
    const a = net.node(A);
    const b = net.node(B);
    net.connectAll();
    let seen: { deadline: number; apiId?: string } | undefined;
    b.registerService({ id: 'vm', handle: async (msg) => void (seen = { deadline: msg.deadline, apiId: msg.apiId }) });
    const deadline = Date.now() + 5000;
    await runWithContext({ deadline, apiId: 'api1' }, () => a.call('vm', 'X', {}, { resourceUuid: uuidOwnedBy(a, B) }));
    expect(net.sent[0].msg.timeoutMs).toBeGreaterThan(4000);
    expect(net.sent[0].msg.timeoutMs).toBeLessThanOrEqual(5000);
    expect(seen!.apiId).toBe('api1');
    expect(Math.abs(seen!.deadline - deadline)).toBeLessThan(1000);
  });

  it('replies MANAGEMENT_NODE_UNAVAILABLE when the owner cannot be reached, and NO_ROUTE without a transport address', async () => {
    net = new FakeNetwork();
    const a = net.node(A);
    net.node(B);
    net.connectAll();
    net.down.add(B);
    await expect(a.send('vm', 'X', {}, { resourceUuid: uuidOwnedBy(a, B) })).resolves.toMatchObject({ success: false, error: { code: 'SYS.1012' } });
    await expect(a.send('vm', 'X', {}, { nodeUuid: 'c'.repeat(32) })).resolves.toMatchObject({ success: false, error: { code: 'SYS.1009' } });
  });

  it('fails calls in flight to a node that leaves, and routes its resources elsewhere afterwards', async () => {
    net = new FakeNetwork();
    const a = net.node(A);
    const b = net.node(B);
    net.connectAll();
    b.registerService({ id: 'vm', handle: () => new Promise(() => {}) });
    a.registerService({ id: 'vm', handle: async () => 'A took over' });
    const uuid = uuidOwnedBy(a, B);
    const inFlight = a.send('vm', 'X', {}, { resourceUuid: uuid });
    await new Promise((r) => setImmediate(r));
    a.removePeer(B);
    await expect(inFlight).resolves.toMatchObject({ success: false, error: { code: 'SYS.1012' } });
    expect(a.ownerOf(uuid)).toBe(A);
    await expect(a.call('vm', 'X', {}, { resourceUuid: uuid })).resolves.toBe('A took over');
  });

  it('does not deliver a message that arrives after its deadline', async () => {
    net = new FakeNetwork();
    const b = net.node(B);
    let delivered = false;
    b.registerService({ id: 'vm', handle: async () => void (delivered = true) });
    const reply = await b.receiveMessage({ id: '1'.repeat(32), service: 'vm', type: 'X', body: {}, timeoutMs: 0, headers: {}, sourceNodeUuid: A });
    expect(reply).toMatchObject({ success: false, error: { code: 'SYS.1001' } });
    expect(delivered).toBe(false);
  });

  it('broadcasts events to subscribers on every node', async () => {
    net = new FakeNetwork();
    const a = net.node(A);
    const b = net.node(B);
    const c = net.node('c'.repeat(32));
    net.connectAll();
    const got: string[] = [];
    for (const [bus, name] of [[a, 'A'], [b, 'B'], [c, 'C']] as const) bus.subscribe<{ n: number }>('zone.created', (body, ev) => void got.push(`${name} ${body.n} from ${ev.sourceNodeUuid === A ? 'A' : '?'}`));
    await a.publish('zone.created', { n: 1 });
    await new Promise((r) => setTimeout(r, 5));
    expect(got.sort()).toEqual(['A 1 from A', 'B 1 from A', 'C 1 from A']);
  });
});
