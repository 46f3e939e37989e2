import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AGENT_CALLBACK_PATH, AgentClient, AgentErrors, type AgentEndpoint } from '../src/core/agent/index.ts';
import { runWithContext } from '../src/core/bus/context.ts';
import { StratoError, SysErrors } from '../src/core/errors/index.ts';
import { SimulatorFleet, type SimulatorTransport } from '../src/plugins/simulator/index.ts';

/**
 * The agent protocol between a node's AgentClient and simulated agents, over HTTP (a real callback
 * server, as the node's /zstack/asyncrest/callback) and in process: same contract on both.
 */
describe.each<SimulatorTransport>(['http', 'inProcess'])('agent protocol over %s', (transport) => {
  let client: AgentClient;
  let fleet: SimulatorFleet;
  let callbackServer: Server;
  let ep: AgentEndpoint;
  const errors: unknown[] = [];

  const failure = async (p: Promise<unknown>): Promise<StratoError> => {
    const e = await p.then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(StratoError);
    return e as StratoError;
  };

  beforeAll(async () => {
    client = new AgentClient();
    callbackServer = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        res.writeHead(client.handleCallback(req.headers as Record<string, string>, text ? JSON.parse(text) : {})).end('{}');
      });
    });
    await new Promise<void>((r) => callbackServer.listen(0, '127.0.0.1', r));
    client.setCallbackUrl(`http://127.0.0.1:${(callbackServer.address() as AddressInfo).port}${AGENT_CALLBACK_PATH}`);
    fleet = new SimulatorFleet(client, (e) => errors.push(e));
    fleet.defineCommand('host', '/host/echo', () => ({}), { sync: true });
    fleet.defineCommand('host', '/host/capacity', (_cmd, agent) => ({ cpuNum: agent.state.cpu }));
    fleet.defineCommand('host', '/host/crash', () => {
      throw new Error('kaboom');
    });
    fleet.deploy('a1', 'host', 'secret-token', { cpu: 4 });
    ep = await fleet.endpointOf('a1', transport);
  });
  beforeEach(() => fleet.reset());
  afterAll(async () => {
    await fleet.close();
    client.close();
    await new Promise<void>((r) => callbackServer.close(() => r()));
  });

  it('answers a sync command in the reply and an async one on the callback, with the agent state', async () => {
    await expect(client.callSync(ep, '/host/echo', {})).resolves.toMatchObject({ success: true });
    await expect(client.call(ep, '/host/capacity', {})).resolves.toMatchObject({ success: true, cpuNum: 4 });
    expect(client.pendingCount).toBe(0);
    expect(fleet.agent('a1')!.count('/host/capacity')).toBe(1);
  });

  it('matches a callback that arrives before the HTTP acknowledgement (the task is registered before sending)', async () => {
    fleet.agent('a1')!.configure('/host/capacity', { callbackBeforeAck: true });
    await expect(client.call(ep, '/host/capacity', {})).resolves.toMatchObject({ cpuNum: 4 });
    expect(client.pendingCount).toBe(0);
  });

  it('times out with SYS.1001 when the agent never answers, and forgets the task', async () => {
    fleet.agent('a1')!.configure('/host/capacity', { hang: true });
    const e = await failure(client.call(ep, '/host/capacity', {}, { timeoutMs: 150 }));
    expect(e.errorCode.code).toBe(SysErrors.TIMEOUT.code);
    expect(client.pendingCount).toBe(0);
    fleet.agent('a1')!.configure('/host/echo', { hang: true });
    expect((await failure(client.callSync(ep, '/host/echo', {}, { timeoutMs: 150 }))).errorCode.code).toBe(SysErrors.TIMEOUT.code);
  });

  it('takes its timeout from the current request deadline', async () => {
    fleet.agent('a1')!.configure('/host/capacity', { hang: true });
    const started = Date.now();
    const e = await failure(runWithContext({ deadline: Date.now() + 200 }, () => client.call(ep, '/host/capacity', {})));
    expect(e.errorCode.code).toBe(SysErrors.TIMEOUT.code);
    expect(Date.now() - started).toBeLessThan(60_000); // the default would be 5 minutes
    const late = await failure(runWithContext({ deadline: Date.now() - 1 }, () => client.call(ep, '/host/capacity', {})));
    expect(late.errorCode.code).toBe(SysErrors.TIMEOUT.code);
  });

  it('rejects with AGENT.1002 on success:false, a raised handler, an HTTP error, and a throwing command', async () => {
    const agent = fleet.agent('a1')!;
    agent.configure('/host/capacity', { error: 'no such device', times: 1 });
    expect((await failure(client.call(ep, '/host/capacity', {}))).errorCode).toMatchObject({ code: AgentErrors.COMMAND_FAILED.code, details: expect.stringContaining('no such device') });
    agent.configure('/host/capacity', { raise: 'Traceback: boom', times: 1 });
    expect((await failure(client.call(ep, '/host/capacity', {}))).errorCode.details).toContain('Traceback: boom');
    agent.configure('/host/echo', { httpStatus: 500, times: 1 });
    expect((await failure(client.callSync(ep, '/host/echo', {}))).errorCode.code).toBe(AgentErrors.COMMAND_FAILED.code);
    expect((await failure(client.call(ep, '/host/crash', {}))).errorCode.details).toContain('kaboom');
    // times:1 behaviours are spent: the agent is healthy again.
    await expect(client.call(ep, '/host/capacity', {})).resolves.toMatchObject({ cpuNum: 4 });
    expect(client.pendingCount).toBe(0);
  });

  it('is refused with AGENT.1001 without the host token, and the command never runs', async () => {
    const before = fleet.agent('a1')!.count('/host/capacity');
    const e = await failure(client.call({ ...ep, token: 'stolen' }, '/host/capacity', {}));
    expect(e.errorCode.code).toBe(AgentErrors.REFUSED.code);
    expect(fleet.agent('a1')!.count('/host/capacity')).toBe(before);
    expect(client.pendingCount).toBe(0);
  });

  it('fails with AGENT.1000 when nothing listens at the endpoint', async () => {
    const nowhere = transport === 'http' ? { url: 'http://127.0.0.1:1/agents/x', token: 't' } : { url: 'inproc://nobody', token: 't' };
    expect((await failure(client.call(nowhere, '/host/capacity', {}))).errorCode.code).toBe(AgentErrors.UNREACHABLE.code);
    expect(client.pendingCount).toBe(0);
  });

  it('delays a path as configured and fleet-wide behaviours reach agents deployed later', async () => {
    fleet.configure('/host/capacity', { delayMs: 120 });
    fleet.deploy('a2', 'host', 'tok2', { cpu: 2 });
    const ep2 = await fleet.endpointOf('a2', transport);
    const started = Date.now();
    await expect(client.call(ep2, '/host/capacity', {})).resolves.toMatchObject({ cpuNum: 2 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    fleet.remove('a2');
  });

  it('answers 404 to a callback for an unknown task and 400 without a task header', () => {
    expect(client.handleCallback({ taskuuid: 'f'.repeat(32) }, {})).toBe(404);
    expect(client.handleCallback({}, {})).toBe(400);
  });
});
