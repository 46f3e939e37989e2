import { createHash } from 'node:crypto';
import pino from 'pino';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ConsoleBackendPoint } from '../src/contracts/console.ts';
import { VmErrors } from '../src/contracts/vm.ts';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { SysErrors } from '../src/core/errors/index.ts';
import type { ServiceModule } from '../src/core/node-context.ts';
import { newUuid } from '../src/core/util/uuid.ts';
import { ManagementNode } from '../src/node/management-node.ts';
import { waitFor } from './support/integration.ts';
import { createTenant } from './support/tenants.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';
import { buildVmWorld, type VmWorld } from './support/vm-fixture.ts';

/**
 * A stand-in VNC server on loopback (speaks RFB 3.8 up to the security types) and a console backend
 * for Simulator hosts that connects to it: the node's token lifecycle, websocket proxy and closing
 * rules are exercised without a guest (test/system/kvm-console.test.ts does it with a real QEMU).
 */
class FakeVnc {
  readonly sockets: Socket[] = [];
  readonly server: Server = createServer((s) => {
    this.sockets.push(s);
    s.on('error', () => undefined);
    s.write('RFB 003.008\n');
    s.once('data', () => s.write(Buffer.from([1, 1]))); // one security type: None
  });
  failNext = false;

  async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  module(): ServiceModule {
    return {
      id: 'test.console-fake-vnc',
      setup: (ctx) => ctx.extensions.registerStrategy(ConsoleBackendPoint, 'Simulator', {
        open: async () => {
          if (this.failNext) {
            this.failNext = false;
            throw new Error('the fake VNC refuses this one');
          }
          return new Promise((resolve, reject) => {
            const s = connect(this.port, '127.0.0.1', () => resolve(s));
            s.once('error', reject);
          });
        },
      }),
    };
  }
}

type Opened = { ws: WebSocket; messages: Buffer[] } | { status: number; body: string };

/** A websocket as a browser opens it: either open (messages collected) or the HTTP answer that refused it. */
function openConsole(url: string): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const messages: Buffer[] = [];
    ws.on('message', (m: Buffer) => messages.push(Buffer.from(m)));
    ws.once('open', () => resolve({ ws, messages }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += String(c)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once('error', reject);
  });
}

function opened(o: Opened): { ws: WebSocket; messages: Buffer[] } {
  if (!('ws' in o)) throw new Error(`the console was refused: ${o.status} ${o.body}`);
  return o;
}

const tokenHash = (token: string) => createHash('sha256').update(token).digest('hex');

describe.each(testDatabaseKinds())('VM console access on %s', (kind) => {
  const vnc = new FakeVnc();
  let t: TestNode;
  let c: TestClient;
  let w: VmWorld;
  let vm: string;
  const wsUrl = (token: string) => `${t.url.replace(/^http/, 'ws')}/console/ws?token=${encodeURIComponent(token)}`;
  const request = (vmInstanceUuid: string, client = c) => client.send('POST', '/consoles', { params: { vmInstanceUuid } });
  const tokenRows = async () => Number((await t.node.ctx.db.selectFrom('console_token').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

  beforeAll(async () => {
    await vnc.listen();
    t = await startTestNode(kind, { modules: [vnc.module()] });
    c = await t.login();
    w = await buildVmWorld(c, `console-${kind}`, { hosts: 1 });
    vm = (await c.call('POST', '/vm-instances', { params: { name: 'console-vm', instanceOfferingUuid: w.offering, imageUuid: w.image, l3NetworkUuids: [w.l3] } })).inventory.uuid;
  }, 120_000);
  afterAll(async () => {
    await t?.stop();
    for (const s of vnc.sockets) s.destroy();
    await new Promise((r) => vnc.server.close(r));
  });

  it("answers ZStack's ConsoleInventory with a one-time token and the noVNC URL; only the token's hash is stored", async () => {
    const r = await request(vm);
    expect(r.status, r.text).toBe(200);
    const inv = r.body.inventory;
    const port = Number(new URL(t.url).port);
    expect(inv).toMatchObject({ scheme: 'http', targetScheme: 'vnc', hostname: '127.0.0.1', port });
    expect(inv.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(inv.url).toBe(`http://127.0.0.1:${port}/console/vnc.html?token=${inv.token}`);
    const ttl = Date.parse(inv.expiredDate) - Date.now();
    expect(ttl).toBeGreaterThan(100_000);
    expect(ttl).toBeLessThanOrEqual(120_000);
    const row = await t.node.ctx.db.selectFrom('console_token').selectAll().where('tokenHash', '=', tokenHash(inv.token)).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ vmInstanceUuid: vm, usedDate: null });
    expect(JSON.stringify(await t.node.ctx.db.selectFrom('console_token').selectAll().execute())).not.toContain(inv.token);
  });

  it('proxies RFB both ways over the websocket, and a second use of the token is refused before any upgrade', async () => {
    const { token } = (await request(vm)).body.inventory;
    const first = opened(await openConsole(wsUrl(token)));
    await waitFor('the RFB version', () => Buffer.concat(first.messages).toString() === 'RFB 003.008\n');
    first.ws.send(Buffer.from('RFB 003.008\n'));
    await waitFor('the security types', () => Buffer.concat(first.messages).length === 14);
    expect([...Buffer.concat(first.messages).subarray(12)]).toEqual([1, 1]);

    const again = await openConsole(wsUrl(token));
    expect(again).toMatchObject({ status: 403 });
    expect((again as { body: string }).body).toContain('already used');
    first.ws.close();
  });

  it('closes the VM side when the browser closes, and the browser side when the VM side closes', async () => {
    const before = vnc.sockets.length;
    const a = opened(await openConsole(wsUrl((await request(vm)).body.inventory.token)));
    await waitFor('the VNC connection', () => vnc.sockets.length === before + 1);
    a.ws.close();
    await waitFor('the VNC side closed', () => vnc.sockets[before].destroyed || vnc.sockets[before].readableEnded);

    const b = opened(await openConsole(wsUrl((await request(vm)).body.inventory.token)));
    await waitFor('the VNC connection', () => vnc.sockets.length === before + 2);
    const closed = new Promise((r) => b.ws.once('close', r));
    vnc.sockets[before + 1].destroy();
    await closed;
    await waitFor('no console left open', () => b.ws.readyState === WebSocket.CLOSED);
  });

  it('refuses an expired, an unknown and a missing token (403/401) and opens nothing', async () => {
    const { token } = (await request(vm)).body.inventory;
    await t.node.ctx.db.updateTable('console_token').set({ expiryDate: Date.now() - 1 }).where('tokenHash', '=', tokenHash(token)).execute();
    const before = vnc.sockets.length;
    expect(await openConsole(wsUrl(token))).toMatchObject({ status: 403 });
    expect(await openConsole(wsUrl('A'.repeat(43)))).toMatchObject({ status: 403 });
    expect(await openConsole(wsUrl('not a token'))).toMatchObject({ status: 403 });
    expect(await openConsole(`${t.url.replace(/^http/, 'ws')}/console/ws`)).toMatchObject({ status: 401 });
    expect(vnc.sockets.length).toBe(before);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(Number(/strato_console_refused_total\{reason="token"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(4);
    expect(metrics).toMatch(/strato_console_open \d+/);
  });

  it('answers 400 to an upgrade that is not a websocket handshake, without spending the token', async () => {
    const { token } = (await request(vm)).body.inventory;
    const { port } = new URL(t.url);
    const answer = await new Promise<string>((resolve) => {
      const s = connect(Number(port), '127.0.0.1', () => s.write(`GET /console/ws?token=${token} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`));
      let text = '';
      s.on('data', (c: Buffer) => (text += String(c)));
      s.on('close', () => resolve(text));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
    const later = opened(await openConsole(wsUrl(token)));
    later.ws.close();
  });

  it('opens a token exactly once when two connections race for it', async () => {
    const { token } = (await request(vm)).body.inventory;
    const both = await Promise.all([openConsole(wsUrl(token)), openConsole(wsUrl(token))]);
    expect(both.filter((o) => 'ws' in o)).toHaveLength(1);
    expect(both.filter((o) => 'status' in o && o.status === 403)).toHaveLength(1);
    for (const o of both) if ('ws' in o) o.ws.close();
  });

  it('answers 502 before the upgrade when the console cannot be reached (the token is spent)', async () => {
    const { token } = (await request(vm)).body.inventory;
    vnc.failNext = true;
    const r = await openConsole(wsUrl(token));
    expect(r).toMatchObject({ status: 502 });
    expect((r as { body: string }).body).toContain('refuses');
    expect(await openConsole(wsUrl(token))).toMatchObject({ status: 403 });
  });

  it("refuses a tenant another account's VM exactly as a missing one, and issues nothing", async () => {
    const tenant = await createTenant(t, `console-tenant-${kind}`);
    const rows = await tokenRows();
    const foreign = await request(vm, tenant.client);
    const missing = await request(newUuid(), tenant.client);
    expect(foreign.status).toBe(503);
    expect(foreign.body.error.code).toBe(SysErrors.RESOURCE_NOT_FOUND.code);
    expect(missing.body.error.code).toBe(SysErrors.RESOURCE_NOT_FOUND.code);
    expect(await tokenRows()).toBe(rows);
  });

  it('refuses bad input with SYS.1007 and issues nothing', async () => {
    const rows = await tokenRows();
    for (const params of [{}, { vmInstanceUuid: 'not-a-uuid' }, { vmInstanceUuid: vm, extra: 1 }]) {
      const r = await c.send('POST', '/consoles', { params });
      expect(r.status, r.text).toBe(503);
      expect(r.body.error.code).toBe(SysErrors.INVALID_ARGUMENT_ERROR.code);
    }
    expect(await tokenRows()).toBe(rows);
  });

  it('serves the noVNC page and its modules from node_modules, and nothing outside them', async () => {
    const page = await fetch(`${t.url}/console/vnc.html?token=x`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain("import RFB from './novnc/core/rfb.js'");
    const rfb = await fetch(`${t.url}/console/novnc/core/rfb.js`);
    expect(rfb.status).toBe(200);
    expect(rfb.headers.get('content-type')).toMatch(/javascript/);
    expect(await rfb.text()).toContain('export default class RFB');
    expect((await fetch(`${t.url}/console/novnc/vendor/pako/lib/zlib/inflate.js`)).status).toBe(200);
    for (const bad of ['package.json', 'core/../package.json', 'core/%2e%2e/%2e%2e/package.json', 'docs/API.md']) {
      expect((await fetch(`${t.url}/console/novnc/${bad}`)).status, bad).toBe(404);
    }
  });

  it('gives tokens the lifetime of console.tokenTtlSeconds, and refuses a lifetime out of range', async () => {
    await c.call('PUT', '/global-configurations/console/tokenTtlSeconds/actions', { updateGlobalConfig: { value: '30' } });
    const ttl = Date.parse((await request(vm)).body.inventory.expiredDate) - Date.now();
    expect(ttl).toBeGreaterThan(20_000);
    expect(ttl).toBeLessThanOrEqual(30_000);
    const bad = await c.send('PUT', '/global-configurations/console/tokenTtlSeconds/actions', { updateGlobalConfig: { value: '1' } });
    expect(bad.status).toBe(503);
    await c.call('PUT', '/global-configurations/console/tokenTtlSeconds/actions', { updateGlobalConfig: { value: '120' } });
  });

  it('refuses a Stopped VM with VM.1010 and issues nothing; a token issued before the stop opens nothing', async () => {
    const { token } = (await request(vm)).body.inventory;
    await c.call('PUT', `/vm-instances/${vm}/actions`, { stopVmInstance: {} });
    const rows = await tokenRows();
    const r = await request(vm);
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe(VmErrors.NOT_IN_CORRECT_STATE.code);
    expect(r.body.error.details).toContain('Stopped');
    expect(await tokenRows()).toBe(rows);
    const late = await openConsole(wsUrl(token));
    expect(late).toMatchObject({ status: 409 });
  });
});

describe('VM console of a hypervisor without a console backend', () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await startTestNode('sqlite');
  }, 60_000);
  afterAll(async () => t?.stop());

  it('answers SYS.1013 naming the Simulator host for a simulated VM, and issues nothing', async () => {
    const c = await t.login();
    const w = await buildVmWorld(c, 'console-nobackend', { hosts: 1 });
    const vm = (await c.call('POST', '/vm-instances', { params: { name: 'sim-vm', instanceOfferingUuid: w.offering, imageUuid: w.image, l3NetworkUuids: [w.l3] } })).inventory.uuid;
    const r = await c.send('POST', '/consoles', { params: { vmInstanceUuid: vm } });
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe(SysErrors.NO_CAPABILITY_ERROR.code);
    expect(r.body.error.details).toContain('Simulator');
    expect((await t.node.ctx.db.selectFrom('console_token').selectAll().execute()).length).toBe(0);
  });
});

describe.skipIf(!testDatabaseKinds().includes('mysql'))('VM console with two management nodes on one MariaDB database', () => {
  const vnc = new FakeVnc();
  let t: TestNode;
  let b: ManagementNode;
  let vm: string;
  let c: TestClient;
  const wsAt = (url: string, token: string) => `${url.replace(/^http/, 'ws')}/console/ws?token=${encodeURIComponent(token)}`;

  beforeAll(async () => {
    await vnc.listen();
    t = await startTestNode('mysql', { modules: [vnc.module()] });
    b = await ManagementNode.start({ dbUrl: t.db.url, port: 0, host: '127.0.0.1', logger: pino({ level: process.env.STRATO_TEST_LOG ?? 'silent' }), modules: [vnc.module()] });
    await t.node.refreshPeers();
    c = await t.login();
    const w = await buildVmWorld(c, 'console-two-nodes', { hosts: 1 });
    vm = (await c.call('POST', '/vm-instances', { params: { name: 'console-vm', instanceOfferingUuid: w.offering, imageUuid: w.image, l3NetworkUuids: [w.l3] } })).inventory.uuid;
  }, 120_000);
  let bStopped = false;
  afterAll(async () => {
    if (!bStopped) await b?.stop();
    await t?.stop();
    for (const s of vnc.sockets) s.destroy();
    await new Promise((r) => vnc.server.close(r));
  });

  it('a token issued by one node opens the console on the other, once; a race between the nodes opens it once', async () => {
    const { token } = (await c.call('POST', '/consoles', { params: { vmInstanceUuid: vm } })).inventory;
    const onB = opened(await openConsole(wsAt(b.url, token)));
    await waitFor('the RFB version through node B', () => Buffer.concat(onB.messages).toString() === 'RFB 003.008\n');
    onB.ws.close();
    expect(await openConsole(wsAt(t.url, token))).toMatchObject({ status: 403 });

    const second = (await c.call('POST', '/consoles', { params: { vmInstanceUuid: vm } })).inventory.token;
    const both = await Promise.all([openConsole(wsAt(t.url, second)), openConsole(wsAt(b.url, second))]);
    expect(both.filter((o) => 'ws' in o)).toHaveLength(1);
    expect(both.filter((o) => 'status' in o && o.status === 403)).toHaveLength(1);
    for (const o of both) if ('ws' in o) o.ws.close();
  });

  it('a node that stops ends the consoles it carries instead of waiting for them', async () => {
    const { token } = (await c.call('POST', '/consoles', { params: { vmInstanceUuid: vm } })).inventory;
    const open = opened(await openConsole(wsAt(b.url, token)));
    const closed = new Promise((r) => open.ws.once('close', r));
    const vmSide = vnc.sockets.at(-1)!;
    bStopped = true;
    await b.stop();
    await closed;
    await waitFor('the VM side closed', () => vmSide.destroyed || vmSide.readableEnded);
  });
});

/**
 * A console token is a capability: it may be in the API's reply (and its job's result, which only the
 * caller's account can poll) but never in what operators read: the node's log at its most verbose, nor
 * the audit records. Opened, refused and failed consoles all log something; none logs the token.
 */
describe('VM console tokens stay out of logs and audit records', () => {
  const vnc = new FakeVnc();
  const lines: string[] = [];
  let t: TestNode;

  beforeAll(async () => {
    await vnc.listen();
    const logger = pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) });
    t = await startTestNode('sqlite', { modules: [vnc.module()], node: { logger } });
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
    for (const s of vnc.sockets) s.destroy();
    await new Promise((r) => vnc.server.close(r));
  });

  it('logs and audits console requests, openings and failures without their tokens', async () => {
    const c = await t.login();
    const w = await buildVmWorld(c, 'console-log', { hosts: 1 });
    const vm = (await c.call('POST', '/vm-instances', { params: { name: 'console-log-vm', instanceOfferingUuid: w.offering, imageUuid: w.image, l3NetworkUuids: [w.l3] } })).inventory.uuid;
    const wsUrl = (token: string) => `${t.url.replace(/^http/, 'ws')}/console/ws?token=${encodeURIComponent(token)}`;
    const tokens: string[] = [];
    const issue = async () => {
      const token = String((await c.call('POST', '/consoles', { params: { vmInstanceUuid: vm } })).inventory.token);
      tokens.push(token);
      return token;
    };
    const first = await issue();
    const open = opened(await openConsole(wsUrl(first)));
    await waitFor('the RFB version', () => Buffer.concat(open.messages).length > 0);
    open.ws.close();
    expect(await openConsole(wsUrl(first))).toMatchObject({ status: 403 });
    vnc.failNext = true;
    expect(await openConsole(wsUrl(await issue()))).toMatchObject({ status: 502 });
    await fetch(`${t.url}/console/vnc.html?token=${await issue()}`);

    await waitFor('the console opening logged', () => lines.some((l) => l.includes('console opened')));
    expect(lines.some((l) => l.includes('cannot open the VM console'))).toBe(true);
    const audited = async () => JSON.stringify(await t.node.ctx.db.selectFrom('audit_log').selectAll().where('apiName', '=', 'RequestConsoleAccess').execute());
    await waitFor('the requests audited', async () => (await audited()).split('RequestConsoleAccess').length - 1 === tokens.length);
    const everything = `${lines.join('')}\n${await audited()}`;
    for (const token of tokens) expect(everything).not.toContain(token);
  });
});
