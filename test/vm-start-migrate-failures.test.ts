import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AfterVmMigratedOnHost, AfterVmMigrateTargetAllocated, AfterVmStartedOnHost, AfterVmStartHostAllocated } from '../src/contracts/vm.ts';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import type { InsertionPoint } from '../src/core/flow/index.ts';
import { simulatorFleetOf } from '../src/plugins/simulator/index.ts';
import type { PathBehaviour } from '../src/plugins/simulator/simulated-agent.ts';
import { vmsOf } from '../src/plugins/simulator-vm/index.ts';
import { createCluster } from './support/integration.ts';
import { stepFailures, type FailWhen } from './support/failing-steps.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';
import { accounting, buildVmWorld, GiB, type VmWorld } from './support/vm-fixture.ts';

/** A test-only plugin: a failure at any step of any chain (`failures.at`), with a step at each insertion point of `vm.start` and `vm.migrate`. */
const POINTS: Array<InsertionPoint<any>> = [AfterVmStartHostAllocated, AfterVmStartedOnHost, AfterVmMigrateTargetAllocated, AfterVmMigratedOnHost];
const failures = stepFailures('test-failing-vm-start-migrate-steps', POINTS);
const WHEN: FailWhen[] = ['before', 'after'];

/** Runs `attempt` with a failure injected at each step of the chain, before and after the step's work; says which case broke. */
async function atEveryStep(chain: string, ownSteps: string[], attempt: (mentions: string) => Promise<void>): Promise<void> {
  const steps = failures.stepsOf(chain);
  // The chain's own steps and one inserted at each of its points: a step added later is in this list without touching the test.
  expect(steps).toEqual(expect.arrayContaining(ownSteps.map((s) => `${chain}/${s}`)));
  // (counting this test's own pass-through steps: plugins insert theirs too, e.g. local storage in vm.migrate)
  expect(steps.filter((s) => s.split('/').length === 3 && s.split('/')[2].startsWith('pass-'))).toHaveLength(POINTS.filter((p) => p.name.startsWith(`${chain}.`)).length);
  for (const path of steps) {
    for (const when of WHEN) {
      const fired = failures.fired;
      failures.at = { path, when };
      try {
        await attempt(failures.message(path, when));
      } catch (e) {
        throw new Error(`failing ${when} ${path}: ${(e as Error).message}`, { cause: e });
      } finally {
        failures.at = undefined;
      }
      expect(failures.fired, `failing ${when} ${path} fired`).toBe(fired + 1);
    }
  }
}

describe.each(testDatabaseKinds())('a VM start or migration that fails at any step leaves everything as it was on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let w: VmWorld;
  /** Stopped, for the start chain. */
  let sleeper: string;
  /** Running on the first host, for migrations. */
  let mover: string;
  /** A cluster of the zone (with a host) that reaches neither the VMs' L2 network nor their primary storage. */
  let farCluster: string;
  let farHost: string;
  const db = () => t.node.ctx.db;
  const fleet = () => simulatorFleetOf(t.node.ctx);
  const action = (uuid: string, body: unknown) => c.send('PUT', `/vm-instances/${uuid}/actions`, body);
  const vmRow = (uuid: string) => db().selectFrom('vm_instance').select(['state', 'hostUuid', 'lastHostUuid', 'clusterUuid']).where('uuid', '=', uuid).executeTakeFirstOrThrow();
  const agentsRunning = (uuid: string) => w.hosts.filter((h) => vmsOf(fleet().agent(h)!)[uuid] === 'Running');
  const hostState = (uuid: string, stateEvent: 'enable' | 'disable') => c.call('PUT', `/hosts/${uuid}/actions`, { changeHostState: { stateEvent } });

  beforeAll(async () => {
    t = await startTestNode(kind, { modules: [failures.module] });
    c = await t.login();
    w = await buildVmWorld(c, 'vsm');
    const create = (name: string, params: Record<string, unknown> = {}) => c.call('POST', '/vm-instances', { params: { name, instanceOfferingUuid: w.offering, imageUuid: w.image, l3NetworkUuids: [w.l3, w.l3b], dataDiskOfferingUuids: [w.diskOffering], ...params } });
    sleeper = (await create('sleeper')).inventory.uuid;
    await c.call('PUT', `/vm-instances/${sleeper}/actions`, { stopVmInstance: {} });
    mover = (await create('mover', { hostUuid: w.hosts[0] })).inventory.uuid;
    farCluster = (await createCluster(c, w.zone, 'vsm-far', { hypervisorType: 'Simulator' })).uuid as string;
    farHost = (await c.call('POST', '/hosts/simulators', { params: { name: 'vsm-far-host', managementIp: '10.199.77.1', clusterUuid: farCluster, cpuCapacity: 8, memoryCapacity: 16 * GiB } })).inventory.uuid;
  });
  afterAll(async () => {
    fleet()?.reset();
    await t?.stop();
  });

  describe('vm.start of a stopped VM', () => {
    /** Nothing leaked, the VM still Stopped with no host, no agent running it. */
    const expectStillStopped = async (r: { status: number; body: any; text: string }, before: Record<string, unknown>, vmBefore: Record<string, unknown>, mentions: string) => {
      expect(r.status, r.text).toBe(503);
      expect(r.body.error.details).toContain(mentions);
      expect(await accounting(db(), w)).toEqual(before);
      expect(await vmRow(sleeper)).toEqual(vmBefore);
      expect((await vmRow(sleeper)).hostUuid).toBeNull();
      expect(agentsRunning(sleeper)).toEqual([]);
    };
    const attempt = async (mentions: string, params: Record<string, unknown> = {}) => {
      const before = await accounting(db(), w);
      const vmBefore = await vmRow(sleeper);
      expect(vmBefore.state).toBe('Stopped');
      await expectStillStopped(await action(sleeper, { startVmInstance: params }), before, vmBefore, mentions);
    };

    it('at allocate-start-host (every host is disabled)', async () => {
      for (const h of w.hosts) await hostState(h, 'disable');
      try {
        await attempt('not Enabled');
      } finally {
        for (const h of w.hosts) await hostState(h, 'enable');
      }
    });

    it('at allocate-start-host (the cluster asked for reaches neither the L2 network nor the storage)', async () => {
      await attempt('no cluster in cluster', { clusterUuid: farCluster });
    });

    it('at allocate-start-host (the host asked for has no room)', async () => {
      const [, b] = w.hosts;
      const free = Number((await db().selectFrom('host').select('availableMemoryCapacity').where('uuid', '=', b).executeTakeFirstOrThrow()).availableMemoryCapacity);
      const hog = (await c.call('POST', '/vm-instances', { params: { name: 'hog', cpuNum: 1, memorySize: free - GiB, imageUuid: w.image, l3NetworkUuids: [w.l3], hostUuid: b } })).inventory.uuid;
      try {
        await attempt('bytes are needed', { hostUuid: b });
      } finally {
        await c.call('DELETE', `/vm-instances/${hog}`);
        await c.call('PUT', `/vm-instances/${hog}/actions`, { expungeVmInstance: {} });
      }
    });

    it('at every step of vm.start (read from the FlowRegistry), before and after its work, asking for a host other than its last', async () => {
      await atEveryStep('vm.start', ['mark-starting', 'allocate-start-host', 'start-on-host', 'mark-started'], async (mentions) => {
        const { lastHostUuid } = await vmRow(sleeper);
        await attempt(mentions, { hostUuid: w.hosts.find((h) => h !== lastHostUuid) });
      });
    }, 180_000);

    it.each<[string, PathBehaviour]>([
      ['answers with an error', { error: 'qemu crashed', times: 1 }],
      ['raises', { raise: 'agent handler raised', times: 1 }],
      ['refuses the command', { httpStatus: 500, times: 1 }],
    ])('at start-on-host (the agent %s on /vm/start)', async (_how, behaviour) => {
      fleet().configure('/vm/start', behaviour);
      try {
        await attempt('');
      } finally {
        fleet().reset();
      }
    });

    it('and the start works after all those failures', async () => {
      const r = await action(sleeper, { startVmInstance: {} });
      expect(r.status, r.text).toBe(200);
      expect(r.body.inventory.state).toBe('Running');
      expect(agentsRunning(sleeper)).toEqual([r.body.inventory.hostUuid]);
      await c.call('PUT', `/vm-instances/${sleeper}/actions`, { stopVmInstance: {} });
    });
  });

  describe('MigrateVm of a running VM', () => {
    /** Nothing leaked, the VM still Running on its source host (its capacity there only), where the agent still runs it. */
    const attempt = async (mentions: string, params: Record<string, unknown> = {}) => {
      const [a] = w.hosts;
      const before = await accounting(db(), w);
      const vmBefore = await vmRow(mover);
      expect(vmBefore).toMatchObject({ state: 'Running', hostUuid: a });
      const r = await action(mover, { migrateVm: params });
      expect(r.status, r.text).toBe(503);
      expect(r.body.error.details).toContain(mentions);
      expect(await accounting(db(), w)).toEqual(before);
      expect(await vmRow(mover)).toEqual(vmBefore);
      expect(agentsRunning(mover)).toEqual([a]);
    };

    it('at allocating the target (the only other host is disabled)', async () => {
      const [, b] = w.hosts;
      await hostState(b, 'disable');
      try {
        await attempt('not Enabled');
      } finally {
        await hostState(b, 'enable');
      }
    });

    it('at allocating the target (the host asked for is in a cluster the VM\'s L2 network and storage do not reach)', async () => {
      await attempt('', { hostUuid: farHost });
      expect(vmsOf(fleet().agent(farHost)!)[mover]).toBeUndefined();
    });

    it('at allocating the target (the host asked for has no room)', async () => {
      const [, b] = w.hosts;
      const free = Number((await db().selectFrom('host').select('availableMemoryCapacity').where('uuid', '=', b).executeTakeFirstOrThrow()).availableMemoryCapacity);
      const hog = (await c.call('POST', '/vm-instances', { params: { name: 'hog', cpuNum: 1, memorySize: free - GiB, imageUuid: w.image, l3NetworkUuids: [w.l3], hostUuid: b } })).inventory.uuid;
      try {
        await attempt('bytes are needed', { hostUuid: b });
        await attempt('bytes are needed');
      } finally {
        await c.call('DELETE', `/vm-instances/${hog}`);
        await c.call('PUT', `/vm-instances/${hog}/actions`, { expungeVmInstance: {} });
      }
    });

    it('at every step of vm.migrate (read from the FlowRegistry), before and after its work', async () => {
      await atEveryStep('vm.migrate', ['allocate-migrate-target', 'mark-migrating', 'migrate-on-host', 'record-on-target', 'release-source'], (mentions) => attempt(mentions));
    }, 180_000);

    it.each<[string, PathBehaviour]>([
      ['answers with an error', { error: 'migration aborted', times: 1 }],
      ['raises', { raise: 'agent handler raised', times: 1 }],
      ['refuses the command', { httpStatus: 500, times: 1 }],
    ])('at the source agent\'s /vm/migrate (it %s)', async (_how, behaviour) => {
      fleet().configure('/vm/migrate', behaviour);
      try {
        await attempt('');
      } finally {
        fleet().reset();
      }
    });

    it('and the migration works after all those failures, moving the capacity to the target', async () => {
      const [a, b] = w.hosts;
      const before = await accounting(db(), w);
      const r = await action(mover, { migrateVm: {} });
      expect(r.status, r.text).toBe(200);
      expect(r.body.inventory).toMatchObject({ state: 'Running', hostUuid: b, lastHostUuid: a });
      expect(agentsRunning(mover)).toEqual([b]);
      const hosts = (before.hosts as Array<[string, number, number]>).map(([u, cpu, mem]) => (u === a ? [u, cpu + 2, mem + 2 * GiB] : u === b ? [u, cpu - 2, mem - 2 * GiB] : [u, cpu, mem]));
      expect(await accounting(db(), w)).toEqual({ ...before, hosts });
    });
  });
});
