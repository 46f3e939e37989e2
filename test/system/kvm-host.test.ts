import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newUuid } from '../../src/core/util/uuid.ts';
import { agentDataDirOf, STRATO_ROOT } from '../../src/plugins/kvm/index.ts';
import { hostPingTrackerOf } from '../../src/services/host/index.ts';
import { createCluster, createZone } from '../support/integration.ts';
import { createPretendHost, type PretendHost } from '../support/pretend-host.ts';
import { startTestNode, type RawResponse, type TestClient, type TestNode } from '../support/test-node.ts';
import { processRuns } from '../../src/agent/process-alive.ts';

/**
 * KVM hosts for real: pretend hosts (network namespaces with their own sshd) get a real `strato agent`
 * deployed by Ansible through AddKVMHost; reconnects redeploy only when something changed; bad logins,
 * unreachable addresses and a busy agent port fail cleanly. SQLite only: each deployment is a real
 * playbook run (15–30 s on this machine), and the database plays no part in what is tested here.
 */
const DEPLOY_MS = 180_000;

describe('KVM hosts deployed by Ansible on pretend hosts', () => {
  let h1: PretendHost;
  let h2: PretendHost;
  let t: TestNode;
  let c: TestClient;
  let rootDir: string;
  let clusterUuid: string;
  const hosts: Record<string, any> = {};
  const db = () => t.node.ctx.db;

  /** An async API followed to its end, with its api id (for task progress). */
  async function job(method: string, path: string, body: unknown): Promise<{ res: RawResponse; apiId: string; ms: number }> {
    const apiId = newUuid();
    const started = Date.now();
    const first = await c.raw(method, path, body, { 'X-Job-UUID': apiId });
    const res = first.status === 202 ? await c.poll(first.body.location, DEPLOY_MS) : first;
    return { res, apiId, ms: Date.now() - started };
  }
  const addKvmHost = (name: string, params: Record<string, unknown>) => job('POST', '/hosts/kvm', { params: { name, clusterUuid, username: 'root', ...params } });
  const agentDir = (hostUuid: string) => agentDataDirOf(rootDir, hostUuid);
  const agentPid = (hostUuid: string) => Number(readFileSync(join(agentDir(hostUuid), 'agent.pid'), 'utf8'));
  /** A live process; a zombie (exited, not yet reaped by this machine's init) counts as gone. */
  const alive = (pid: number) => processRuns(pid);
  async function nothingLeftBehind(h: PretendHost, sshdOnly = true) {
    expect(await db().selectFrom('host').select('uuid').where('managementIp', '=', h.ip).execute()).toEqual([]);
    const kvmRows = await db().selectFrom('kvm_host').select('uuid').execute();
    expect(kvmRows.filter((r) => !Object.values(hosts).some((x) => x.uuid === r.uuid))).toEqual([]);
    expect(readdirSync(rootDir).filter((d) => !Object.values(hosts).some((x) => agentDir(x.uuid).endsWith(`/${d}`)))).toEqual([]);
    if (sshdOnly) expect(await h.pids()).toHaveLength(1);
  }

  beforeAll(async () => {
    [h1, h2] = await Promise.all([createPretendHost(), createPretendHost()]);
    rootDir = await mkdtemp(join(tmpdir(), 'strato-test-agents-'));
    // The node listens where the pretend hosts' agents can call it back (the root side of h1's link).
    t = await startTestNode('sqlite', { node: { host: h1.gatewayIp, advertiseHost: h1.gatewayIp } });
    c = await t.login();
    await c.call('PUT', '/global-configurations/kvm/agent.rootDir/actions', { updateGlobalConfig: { value: rootDir } });
    // No ping round during the test: a reconnect seen here is the one the test asked for (or the agent did).
    await c.call('PUT', '/global-configurations/host/ping.interval/actions', { updateGlobalConfig: { value: '3600' } });
    const zone = await createZone(c, 'kvm-zone');
    clusterUuid = (await createCluster(c, zone.uuid, 'kvm-cluster', { hypervisorType: 'KVM' })).uuid;
  }, 60_000);

  afterAll(async () => {
    // Deleting the hosts stops their agents by pid file; destroy() kills whatever a failure left.
    for (const h of Object.values(hosts)) await c?.send('DELETE', `/hosts/${h.uuid}`).catch(() => undefined);
    await t?.stop();
    await Promise.all([h1?.destroy(), h2?.destroy()]);
    if (rootDir) await rm(rootDir, { recursive: true, force: true });
  }, 120_000);

  it('refuses a wrong password with KVM.1001 and leaves no host row, agent or file', async () => {
    const { res } = await addKvmHost('wrong-password', { managementIp: h2.ip, password: 'not-the-password' });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('KVM.1001');
    expect(res.body.error.details).toContain(`root@${h2.ip}`);
    await nothingLeftBehind(h2);
  }, DEPLOY_MS);

  it('refuses a username ssh would read as an option with SYS.1007 and leaves nothing', async () => {
    const { res } = await addKvmHost('option-username', { managementIp: h2.ip, username: '-oProxyCommand=x', sshPrivateKey: h2.privateKey });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('SYS.1007');
    await nothingLeftBehind(h2);
  }, DEPLOY_MS);

  it('answers an unreachable address with KVM.1002 and leaves nothing', async () => {
    const nobody = h2.ip.replace(/\.2$/, '.77');
    const { res } = await addKvmHost('unreachable', { managementIp: nobody, sshPrivateKey: h2.privateKey });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('KVM.1002');
    expect(res.body.error.details).toContain(nobody);
    expect(await db().selectFrom('host').select('uuid').where('managementIp', '=', nobody).execute()).toEqual([]);
    await nothingLeftBehind(h2);
  }, DEPLOY_MS);

  it('fails on a busy agent port with a clear error, removes what it wrote and leaves the other process alone', async () => {
    const squatter: ChildProcess = spawn('ip', ['netns', 'exec', h2.name, 'nc', '-lk', h2.ip, '7070'], { stdio: 'ignore' });
    try {
      await waitUntil(async () => (await h2.exec('ss', ['-Hltn', 'sport = :7070'])).stdout.trim() !== '');
      const { res } = await addKvmHost('busy-port', { managementIp: h2.ip, sshPrivateKey: h2.privateKey });
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('KVM.1000');
      expect(res.body.error.details).toContain('port 7070 is in use by another process');
      await nothingLeftBehind(h2, false);
      expect(squatter.exitCode).toBeNull();
      expect(await h2.pids()).toHaveLength(2); // sshd and nc (ip netns exec execs it), no agent
    } finally {
      squatter.kill('SIGKILL');
      await waitUntil(async () => (await h2.pids()).length === 1);
    }
  }, DEPLOY_MS);

  it('adds two KVM hosts through the API: the playbook deploys their agents, progress shows on the job, real capacity', async () => {
    const [a, b] = await Promise.all([
      addKvmHost('kvm-1', { managementIp: h1.ip, sshPrivateKey: h1.privateKey }),
      addKvmHost('kvm-2', { managementIp: h2.ip, sshPrivateKey: h2.privateKey, sshPort: 22 }),
    ]);
    for (const r of [a, b]) expect(r.res.status, r.res.text).toBe(200);
    hosts.h1 = a.res.body.inventory;
    hosts.h2 = b.res.body.inventory;
    for (const [h, pretend] of [[hosts.h1, h1], [hosts.h2, h2]] as const) {
      expect(h).toMatchObject({ hypervisorType: 'KVM', status: 'Connected', state: 'Enabled', managementIp: pretend.ip, cpuNum: cpus().length, totalMemoryCapacity: totalmem() });
      // The agent runs inside the host's namespace, from the playbook's pid file.
      expect(await pretend.pids()).toContain(agentPid(h.uuid));
      expect(statSync(join(agentDir(h.uuid), 'agent-token')).mode & 0o777).toBe(0o600);
    }
    // The login went to the plugin's table, not into the add flow's journal.
    const keyLine = h1.privateKey.split('\n')[2];
    expect(keyLine.length).toBeGreaterThan(20);
    const journal = await db().selectFrom('flow_journal').select(['chainName', 'ctx']).where('chainName', '=', 'host.add').execute();
    expect(journal.length).toBeGreaterThanOrEqual(2);
    expect(journal.map((r) => String(r.ctx)).join('\n')).not.toContain(keyLine);
    const progress = (await c.call('GET', `/task-progresses/${a.apiId}?all=true`)).inventories as { content: string; opaque?: { task?: string } }[];
    const percents = progress.map((p) => Number(p.content));
    expect(percents.length).toBeGreaterThan(2);
    expect(percents.at(-1)).toBe(100);
    expect([...percents].sort((x, y) => x - y)).toEqual(percents);
    console.log(`AddKVMHost: ${a.ms} ms and ${b.ms} ms (two in parallel), ${percents.length} progress reports`);
  }, DEPLOY_MS);

  it('reconnects without running the playbook when nothing changed: same agent pid, no progress, files untouched', async () => {
    const uuid = hosts.h1.uuid;
    const pid = agentPid(uuid);
    const hashMtime = statSync(join(agentDir(uuid), 'deploy-hash')).mtimeMs;
    const { res, apiId, ms } = await job('PUT', `/hosts/${uuid}/actions`, { reconnectHost: {} });
    expect(res.status, res.text).toBe(200);
    expect(res.body.inventory.status).toBe('Connected');
    expect(agentPid(uuid)).toBe(pid);
    expect(alive(pid)).toBe(true);
    expect(statSync(join(agentDir(uuid), 'deploy-hash')).mtimeMs).toBe(hashMtime);
    expect((await c.call('GET', `/task-progresses/${apiId}?all=true`)).inventories).toEqual([]);
    console.log(`ReconnectHost, nothing changed: ${ms} ms`);
  }, DEPLOY_MS);

  it('redeploys on reconnect when the agent is gone or its deployment record differs', async () => {
    const uuid = hosts.h1.uuid;
    const pid = agentPid(uuid);
    process.kill(pid, 'SIGKILL');
    await waitUntil(() => !alive(pid));
    const again = await job('PUT', `/hosts/${uuid}/actions`, { reconnectHost: {} });
    expect(again.res.status, again.res.text).toBe(200);
    expect(again.res.body.inventory.status).toBe('Connected');
    const restarted = agentPid(uuid);
    expect(restarted).not.toBe(pid);
    expect(alive(restarted)).toBe(true);
    expect((await c.call('GET', `/task-progresses/${again.apiId}?all=true`)).inventories.length).toBeGreaterThan(0);

    // A record from another deployment (an upgrade): the playbook runs and restarts the agent.
    await h1.exec('sh', ['-c', `printf stale > '${join(agentDir(uuid), 'deploy-hash')}'`]);
    const upgraded = await job('PUT', `/hosts/${uuid}/actions`, { reconnectHost: {} });
    expect(upgraded.res.status, upgraded.res.text).toBe(200);
    expect(agentPid(uuid)).not.toBe(restarted);
    expect(readFileSync(join(agentDir(uuid), 'deploy-hash'), 'utf8')).not.toBe('stale');
  }, 2 * DEPLOY_MS);

  it('reconnects a host whose agent was restarted on the host (the agent asks for it with /kvm/reconnectme)', async () => {
    const uuid = hosts.h1.uuid;
    const dir = agentDir(uuid);
    await db().updateTable('host').set({ status: 'Disconnected' }).where('uuid', '=', uuid).execute();
    await h1.exec('start-stop-daemon', ['--stop', '--pidfile', join(dir, 'agent.pid'), '--exec', '/usr/bin/node', '--retry', 'TERM/10/KILL/5']);
    await h1.exec('start-stop-daemon', ['--start', '--background', '--make-pidfile', '--pidfile', join(dir, 'agent.pid'), '--output', join(dir, 'agent.log'), '--exec', '/usr/bin/node', '--', join(STRATO_ROOT, 'bin/strato.js'), 'agent', '--port', '7070', '--host', '0.0.0.0', '--data-dir', dir]);
    await waitUntil(async () => (await db().selectFrom('host').select('status').where('uuid', '=', uuid).executeTakeFirst())?.status === 'Connected', 90_000);
  }, DEPLOY_MS);

  it('pings KVM hosts through their agents: a live agent keeps its host Connected', async () => {
    await hostPingTrackerOf(t.node.ctx)!.pingAll();
    const rows = await db().selectFrom('host').select(['uuid', 'status']).where('hypervisorType', '=', 'KVM').execute();
    expect(rows.map((r) => r.status)).toEqual(rows.map(() => 'Connected'));
    expect(rows).toHaveLength(2);
  }, DEPLOY_MS);

  it('deletes a KVM host: its agent stops and its directory goes', async () => {
    const uuid = hosts.h2.uuid;
    const pid = agentPid(uuid);
    const r = await job('DELETE', `/hosts/${uuid}`, undefined);
    expect(r.res.status, r.res.text).toBe(200);
    delete hosts.h2;
    expect(alive(pid)).toBe(false);
    expect(existsSync(agentDir(uuid))).toBe(false);
    expect(await db().selectFrom('kvm_host').select('uuid').where('uuid', '=', uuid).execute()).toEqual([]);
    expect(await h2.pids()).toHaveLength(1);
  }, DEPLOY_MS);
});

async function waitUntil(fn: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const started = Date.now();
  while (!(await fn())) {
    if (Date.now() - started > timeoutMs) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}
