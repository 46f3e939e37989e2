import { describe, it, expect, afterEach } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { Bus } from './bus.ts';
import { HttpTransport } from './http-transport.ts';
import { createBusHttpEndpoint, createBusRequestListener } from './http-endpoint.ts';
import { BUS_MESSAGES_PATH } from './transport.ts';
import { StratoError, SysErrors } from '../errors/error-code.ts';
import { newUuid } from '../util/uuid.ts';

interface TestNode {
  uuid: string;
  bus: Bus;
  server: Server;
  url: string;
}

const started: TestNode[] = [];
afterEach(async () => {
  for (const n of started.splice(0)) {
    n.bus.close();
    n.server.closeAllConnections();
    await new Promise((r) => n.server.close(r));
  }
});

async function startNode(token = 'cluster-secret', serverToken = token): Promise<TestNode> {
  const uuid = newUuid();
  const bus = new Bus({ nodeUuid: uuid, metrics: new Registry(), transport: new HttpTransport({ token }) });
  const server = createServer(createBusRequestListener(createBusHttpEndpoint(bus, { token: serverToken })));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const node = { uuid, bus, server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
  started.push(node);
  return node;
}

function join(nodes: TestNode[]): void {
  const peers = nodes.map((n) => ({ uuid: n.uuid, url: n.url }));
  for (const n of nodes) n.bus.setPeers(peers);
}

function uuidOwnedBy(bus: Bus, node: string): string {
  for (;;) {
    const u = newUuid();
    if (bus.ownerOf(u) === node) return u;
  }
}

describe('Bus between two management nodes over HTTP', () => {
  it('handles a message for a resource owned by node B on B, and brings back its reply and its error', async () => {
    const a = await startNode();
    const b = await startNode();
    join([a, b]);
    a.bus.registerService({ id: 'vm', handle: async () => ({ on: 'A' }) });
    b.bus.registerService({
      id: 'vm',
      async handle(msg) {
        if (msg.type === 'DestroyVm') throw new StratoError(SysErrors.OPERATION_ERROR, `cannot destroy ${msg.resourceUuid}`);
        return { on: 'B', uuid: msg.resourceUuid, body: msg.body };
      },
    });
    const vm = uuidOwnedBy(a.bus, b.uuid);
    await expect(a.bus.call('vm', 'StartVm', { force: true }, { resourceUuid: vm })).resolves.toEqual({ on: 'B', uuid: vm, body: { force: true } });
    const err = await a.bus.call('vm', 'DestroyVm', {}, { resourceUuid: vm }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StratoError);
    expect((err as StratoError).errorCode).toMatchObject({ code: 'SYS.1006', details: `cannot destroy ${vm}` });
    // And the other way round: B forwards A's resources to A.
    await expect(b.bus.call('vm', 'StartVm', {}, { resourceUuid: uuidOwnedBy(b.bus, a.uuid) })).resolves.toEqual({ on: 'A' });
  });

  it('times out a remote call whose handler outlives the deadline', async () => {
    const a = await startNode();
    const b = await startNode();
    join([a, b]);
    b.bus.registerService({ id: 'vm', handle: () => new Promise((r) => setTimeout(r, 2000).unref()) });
    const reply = await a.bus.send('vm', 'X', {}, { resourceUuid: uuidOwnedBy(a.bus, b.uuid), timeoutMs: 100 });
    expect(reply).toMatchObject({ success: false, error: { code: 'SYS.1001' } });
  });

  it('delivers events published on A to subscribers on B', async () => {
    const a = await startNode();
    const b = await startNode();
    join([a, b]);
    const got = new Promise<unknown>((resolve) => b.bus.subscribe('host.connected', (body, ev) => resolve({ body, from: ev.sourceNodeUuid })));
    await a.bus.publish('host.connected', { hostUuid: 'h1' });
    await expect(got).resolves.toEqual({ body: { hostUuid: 'h1' }, from: a.uuid });
  });

  it('refuses messages without the cluster token', async () => {
    const a = await startNode('wrong-token');
    const b = await startNode('cluster-secret', 'cluster-secret');
    join([a, b]);
    let delivered = false;
    b.bus.registerService({ id: 'vm', handle: async () => void (delivered = true) });
    await expect(a.bus.send('vm', 'X', {}, { resourceUuid: uuidOwnedBy(a.bus, b.uuid) })).resolves.toMatchObject({ success: false, error: { code: 'ID.1001' } });
    const res = await fetch(b.url + BUS_MESSAGES_PATH, { method: 'POST', body: '{}' });
    expect(await res.json()).toMatchObject({ success: false, error: { code: 'ID.1001' } });
    expect(delivered).toBe(false);
  });

  it('reports an unreachable peer as MANAGEMENT_NODE_UNAVAILABLE', async () => {
    const a = await startNode();
    const b = await startNode();
    join([a, b]);
    b.server.closeAllConnections();
    await new Promise((r) => b.server.close(r));
    started.splice(started.indexOf(b), 1);
    b.bus.close();
    await expect(a.bus.send('vm', 'X', {}, { resourceUuid: uuidOwnedBy(a.bus, b.uuid) })).resolves.toMatchObject({ success: false, error: { code: 'SYS.1012' } });
  });
});
