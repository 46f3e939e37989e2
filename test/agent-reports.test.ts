import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentCommandPoint } from '../src/contracts/vm.ts';
import { signReport } from '../src/core/agent/index.ts';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';
import { buildVmWorld, type VmWorld } from './support/vm-fixture.ts';

/**
 * Agent → node reports are believed only when signed by the agent the node deployed: anyone else
 * POSTing "this VM stopped" to /zstack/asyncrest/sendcommand is refused (401) and changes nothing.
 */
describe.each(testDatabaseKinds())('signed agent reports on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let w: VmWorld;
  let vm: { uuid: string; hostUuid: string };
  const db = () => t.node.ctx.db;
  const tokenOf = async (host: string) => (await db().selectFrom('host').select('agentToken').where('uuid', '=', host).executeTakeFirstOrThrow()).agentToken as string;
  const vmRow = () => db().selectFrom('vm_instance').select(['state', 'hostUuid']).where('uuid', '=', vm.uuid).executeTakeFirstOrThrow();
  const post = (body: string, headers: Record<string, string>, commandpath = '/kvm/reportvmstate') =>
    fetch(`${t.url}/zstack/asyncrest/sendcommand`, { method: 'POST', headers: { 'Content-Type': 'application/json', commandpath, ...headers }, body });
  const stoppedReport = (hostUuid: string) => JSON.stringify({ hostUuid, vmUuid: vm.uuid, vmState: 'Stopped' });

  beforeAll(async () => {
    t = await startTestNode(kind);
    c = await t.login();
    w = await buildVmWorld(c, 'rpt');
    const r = await c.send('POST', '/vm-instances', { params: { name: 'reported', instanceOfferingUuid: w.offering, imageUuid: w.image, l3NetworkUuids: [w.l3] } });
    vm = r.body.inventory;
  });
  afterAll(async () => t?.stop());

  it('refuses forged reports (unsigned, a guessed token, an unknown agent, another host speaking for this one) and changes nothing', async () => {
    const h = vm.hostUuid;
    const other = w.hosts.find((x) => x !== h)!;
    const body = stoppedReport(h);
    const forgeries: Array<[string, Record<string, string>]> = [
      ['unsigned', {}],
      ['guessed token', signReport({ token: 'guess', agentUuid: h, commandPath: '/kvm/reportvmstate', body })],
      ['unknown agent', signReport({ token: 'guess', agentUuid: 'f'.repeat(32), commandPath: '/kvm/reportvmstate', body })],
      ['another host', signReport({ token: await tokenOf(other), agentUuid: other, commandPath: '/kvm/reportvmstate', body })],
      ['signed for another path', signReport({ token: await tokenOf(h), agentUuid: h, commandPath: '/kvm/reconnectme', body })],
    ];
    for (const [what, headers] of forgeries) {
      const res = await post(body, headers);
      expect(res.status, what).toBe(401);
      expect(((await res.json()) as { error: string }).error, what).toMatch(/report refused/);
    }
    // An unknown command path is no way around the check either.
    expect((await post(body, {}, '/kvm/no-such-report')).status).toBe(401);
    expect(await vmRow()).toEqual({ state: 'Running', hostUuid: h });
  });

  it("hands a host's signed image-cache progress to the command waiting for it (local storage's /localstorage/imagestore/download/progress)", async () => {
    const h = vm.hostUuid;
    const agents = t.node.ctx.agents;
    let taskUuid = '';
    let finish: (() => void) | undefined;
    const address = `rpt-${kind}`;
    agents.inProcess.register(address, async (req, deliver) => {
      taskUuid = req.headers.taskuuid;
      finish = () => deliver({ taskuuid: taskUuid }, { success: true });
      return { status: 200, body: {} };
    });
    const seen: unknown[] = [];
    const running = agents.call({ url: `inproc://${address}`, token: 't' }, '/localstorage/imagestore/download', {}, { onProgress: (r) => seen.push(r.percent) });
    await new Promise((r) => setTimeout(r, 20));
    const path = '/localstorage/imagestore/download/progress';
    const body = JSON.stringify({ taskUuid, primaryStorageInstallPath: '/x', percent: 42, downloaded: 42, total: 100 });
    const res = await post(body, signReport({ token: await tokenOf(h), agentUuid: h, commandPath: path, body }), path);
    expect(await res.json()).toMatchObject({ success: true, delivered: true });
    expect((await post(body, {}, path)).status).toBe(401); // and unsigned, it is not
    finish!();
    await running;
    expect(seen).toEqual([42]);
  });

  it('gives handlers the signer as hostUuid when the report names no host', async () => {
    const path = `/test/report-echo-${kind}`;
    t.node.ctx.extensions.registerStrategy(AgentCommandPoint, path, { handle: async (b) => ({ hostSeen: b.hostUuid }) }, { by: 'test' });
    const other = w.hosts.find((x) => x !== vm.hostUuid)!;
    const body = JSON.stringify({ vmUuid: vm.uuid, vmState: 'Stopped' });
    const res = await post(body, signReport({ token: await tokenOf(other), agentUuid: other, commandPath: path, body }), path);
    expect(await res.json()).toMatchObject({ success: true, hostSeen: other });
  });

  it('acts on a report signed by the VM host agent, once: the same report sent again is refused', async () => {
    const h = vm.hostUuid;
    const body = stoppedReport(h);
    const headers = signReport({ token: await tokenOf(h), agentUuid: h, commandPath: '/kvm/reportvmstate', body });
    const res = await post(body, headers);
    expect(res.status).toBe(200);
    expect(await vmRow()).toEqual({ state: 'Stopped', hostUuid: null });
    const replay = await post(body, headers);
    expect(replay.status).toBe(401);
    expect(((await replay.json()) as { error: string }).error).toMatch(/replay/);
  });
});
