import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunAgentTests, PretendAgentHost } from './harness.ts';

const canRun = canRunAgentTests();

describe.skipIf(!canRun)('strato agent: host commands over HTTP, in a network namespace', () => {
  const host = new PretendAgentHost();

  beforeAll(async () => {
    await host.setUp();
    await host.startAgent();
  }, 60_000);
  afterAll(() => host.tearDown());

  it('refuses a command with a wrong or missing token (AGENT.1001) and counts the refusal', async () => {
    await expect(host.client.callSync({ ...host.endpoint, token: 'wrong' }, '/host/echo', {})).rejects.toMatchObject({ errorCode: { code: 'AGENT.1001' } });
    await expect(host.client.call({ ...host.endpoint, token: '' }, '/host/capacity', {})).rejects.toMatchObject({ errorCode: { code: 'AGENT.1001' } });
    const metrics = await (await fetch(`${host.endpoint.url}/metrics`)).text();
    expect(metrics).toMatch(/strato_agent_refused_total 2/);
  });

  it('answers connect synchronously with host facts, and ping with the host uuid it was connected as', async () => {
    const r = await host.client.callSync(host.endpoint, '/host/connect', { hostUuid: 'a'.repeat(32), sendCommandUrl: host.sendCommandUrl });
    expect(r).toMatchObject({ success: true, accel: 'tcg' });
    expect(r.qemuVersion === undefined || typeof r.qemuVersion === 'string').toBe(true);
    expect(await host.client.call(host.endpoint, '/host/ping', {})).toMatchObject({ hostUuid: 'a'.repeat(32) });
  });

  it('answers capacity asynchronously with the machine CPU and memory', async () => {
    const r = await host.client.call<{ success: boolean; cpuNum: number; totalMemory: number; usedMemory: number }>(host.endpoint, '/host/capacity', {});
    expect(r.cpuNum).toBeGreaterThan(0);
    expect(r.totalMemory).toBeGreaterThan(64 * 1024 * 1024);
    const available = Number(/^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))![1]) * 1024;
    // used = total - MemAvailable (page cache is not "used"), within what moved meanwhile
    expect(Math.abs(r.totalMemory - r.usedMemory - available)).toBeLessThan(512 * 1024 * 1024);
  });

  it('fails a command with bad input as data, not a crash', async () => {
    await expect(host.client.callSync(host.endpoint, '/host/connect', {})).rejects.toMatchObject({ errorCode: { code: 'AGENT.1002' } });
    await expect(host.client.callSync(host.endpoint, '/host/echo', {})).resolves.toMatchObject({ success: true });
  });

  it('remembers the node link across a restart', async () => {
    await host.stopAgent();
    await host.startAgent();
    expect(await host.client.call(host.endpoint, '/host/ping', {})).toMatchObject({ hostUuid: 'a'.repeat(32) });
  }, 60_000);
});
