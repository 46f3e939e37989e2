import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { PassThrough, type Duplex } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleRelay } from '../src/agent/console/console-relay.ts';
import { CommandRegistry } from '../src/agent/command-registry.ts';
import { AgentHttpServer } from '../src/agent/http-server.ts';
import { AgentMetrics } from '../src/agent/metrics.ts';
import { HypervisorFactoryPoint, type HostSpec } from '../src/contracts/host.ts';
import { ExtensionRegistry } from '../src/core/plugin/index.ts';
import { newUuid } from '../src/core/util/uuid.ts';
import { agentRelayBackend } from '../src/plugins/kvm-console/agent-relay-backend.ts';
import { waitFor } from './support/integration.ts';

/**
 * The agent's console relay and the node's KVM console backend against each other, without root or
 * QEMU: a stand-in VNC server on loopback plays the VM's display (RFB 3.8 up to the security types).
 */
describe('the console relay of the agent, reached by the KVM console backend', () => {
  const token = 'relay-test-token';
  const vm = newUuid();
  const vncSockets: Socket[] = [];
  let vnc: Server;
  let server: AgentHttpServer;
  let relay: ConsoleRelay;
  let agentUrl: string;
  const ports = new Map<string, number>();
  const host: HostSpec = { uuid: newUuid(), name: 'h', managementIp: '127.0.0.1', clusterUuid: newUuid(), zoneUuid: newUuid(), hypervisorType: 'KVM', agentToken: token };
  const backendWith = (agentToken: string) => {
    const extensions = new ExtensionRegistry();
    extensions.registerStrategy(HypervisorFactoryPoint, 'KVM', { deploy: async () => undefined, cleanup: async () => undefined, endpointOf: () => ({ url: agentUrl, token: agentToken }) });
    return agentRelayBackend(extensions);
  };
  const read = (s: Duplex) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    return () => Buffer.concat(chunks);
  };

  beforeAll(async () => {
    vnc = createServer((s) => {
      vncSockets.push(s);
      s.on('error', () => undefined);
      s.write('RFB 003.008\n');
      s.once('data', () => s.write(Buffer.from([1, 1])));
    });
    await new Promise<void>((r) => vnc.listen(0, '127.0.0.1', r));
    ports.set(vm, (vnc.address() as AddressInfo).port);
    const log = pino({ level: 'silent' });
    relay = new ConsoleRelay({ vncPortOf: (uuid) => ports.get(uuid), log });
    server = new AgentHttpServer({ host: '127.0.0.1', port: 0, token, commands: new CommandRegistry(), metrics: new AgentMetrics(), log, upgradeRoutes: [relay] });
    agentUrl = await server.listen();
  });
  afterAll(async () => {
    relay.closeAll();
    await server.close();
    for (const s of vncSockets) s.destroy();
    await new Promise((r) => vnc.close(r));
  });

  it('carries RFB both ways once the agent token is right, and closing the node side closes the VM side', async () => {
    const s = await backendWith(token).open({ vmInstanceUuid: vm, host }, { timeoutMs: 5000 });
    const received = read(s);
    await waitFor('the RFB version', () => received().toString('latin1') === 'RFB 003.008\n');
    s.write('RFB 003.008\n');
    await waitFor('the security types', () => received().length === 14);
    expect([...received().subarray(12)]).toEqual([1, 1]);
    expect(relay.openCount).toBe(1);
    const vmSide = vncSockets.at(-1)!;
    s.destroy();
    await waitFor('the VM side closed', () => vmSide.destroyed || vmSide.readableEnded);
    await waitFor('nothing relayed', () => relay.openCount === 0);
  });

  it('refuses a wrong token (401), a VM not running here (404) and a VNC that does not answer (502)', async () => {
    await expect(backendWith('wrong').open({ vmInstanceUuid: vm, host }, { timeoutMs: 5000 })).rejects.toThrow(/401/);
    await expect(backendWith(token).open({ vmInstanceUuid: newUuid(), host }, { timeoutMs: 5000 })).rejects.toThrow(/404.*not running/);
    const dead = newUuid();
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    ports.set(dead, (closed.address() as AddressInfo).port);
    await new Promise((r) => closed.close(r));
    await expect(backendWith(token).open({ vmInstanceUuid: dead, host }, { timeoutMs: 5000 })).rejects.toThrow(/502/);
    expect(relay.openCount).toBe(0);
  });

  it('drops the VNC connection when the node side is gone before VNC answered', async () => {
    const before = vncSockets.length;
    const nodeSide = new PassThrough();
    const req = { url: `/console/${vm}`, headers: { upgrade: 'strato-console' }, socket: { remoteAddress: '127.0.0.1' } } as unknown as IncomingMessage;
    relay.handle(req, nodeSide, Buffer.alloc(0), true);
    nodeSide.destroy(); // the node gave up: VNC's connect has not completed yet
    // (VNC may see the connection or not, depending on when the relay dropped it: none may stay open)
    await new Promise((r) => setTimeout(r, 300));
    await waitFor('no VNC connection left open', () => vncSockets.slice(before).every((s) => s.destroyed || s.readableEnded));
    expect(relay.openCount).toBe(0);
  });

  it('answers 404 to an upgrade anywhere else, and ends relayed connections when the agent stops relaying', async () => {
    const other = await new Promise<string>((resolve) => {
      const s = connect(Number(new URL(agentUrl).port), '127.0.0.1', () => s.write('GET /elsewhere HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: strato-console\r\n\r\n'));
      let text = '';
      s.on('data', (c: Buffer) => (text += String(c)));
      s.on('close', () => resolve(text));
    });
    expect(other).toMatch(/^HTTP\/1\.1 404/);
    const s = await backendWith(token).open({ vmInstanceUuid: vm, host }, { timeoutMs: 5000 });
    s.resume(); // a stream nobody reads never sees its end
    const closed = new Promise((r) => s.once('close', r));
    relay.closeAll();
    await closed;
    expect(relay.openCount).toBe(0);
  });
});
