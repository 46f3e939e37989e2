import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AfterVmMigratedOnHost, AfterVmStartedOnHost } from '../src/contracts/vm.ts';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { SysErrors } from '../src/core/errors/index.ts';
import { recoverUnfinishedFlows, type InsertionPoint } from '../src/core/flow/index.ts';
import type { ServiceModule } from '../src/core/node-context.ts';
import { simulatorFleetOf } from '../src/plugins/simulator/index.ts';
import { vmsOf } from '../src/plugins/simulator-vm/index.ts';
import type { RawResponse } from './support/test-node.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';
import { accounting, buildVmWorld, type VmWorld } from './support/vm-fixture.ts';

/** A test-only plugin: a step at each point that, when armed, stops there until released (a node frozen mid-flow). */
const freezer = (() => {
  let armed: { point: string; entered: () => void; release: Promise<void> } | undefined;
  const module: ServiceModule = {
    id: 'test-freeze-vm-flows',
    setup(ctx) {
      for (const point of [AfterVmMigratedOnHost, AfterVmStartedOnHost] as Array<InsertionPoint<any>>) {
        ctx.flows.insert(point, {
          name: `freeze-${point.name.replace(/\./g, '-')}`,
          async run() {
            const a = armed;
            if (a?.point !== point.name) return;
            a.entered();
            await a.release;
          },
          rollback() {},
        });
      }
    },
  };
  /** Arms the point; resolves once a flow is stopped there, with the function that lets it go on. */
  const freezeAt = async (point: string, start: () => Promise<RawResponse>) => {
    let release!: () => void;
    let entered!: () => void;
    const inside = new Promise<void>((r) => { entered = r; });
    armed = { point, entered, release: new Promise<void>((r) => { release = r; }) };
    const reply = start();
    await inside;
    armed = undefined;
    return { release, reply };
  };
  return { module, freezeAt };
})();

describe.each(testDatabaseKinds())('a VM flow whose node stops mid-way is rolled back by the node that recovers it on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let w: VmWorld;
  const db = () => t.node.ctx.db;
  const fleet = () => simulatorFleetOf(t.node.ctx);
  const vmRow = (uuid: string) => db().selectFrom('vm_instance').select(['state', 'hostUuid', 'lastHostUuid', 'clusterUuid']).where('uuid', '=', uuid).executeTakeFirstOrThrow();
  const runningOn = (uuid: string) => w.hosts.filter((h) => vmsOf(fleet().agent(h)!)[uuid] === 'Running');
  const action = (uuid: string, body: unknown) => c.send('PUT', `/vm-instances/${uuid}/actions`, body);
  /** What a successor node does for a node declared dead: claim its Running journal rows and roll them back. */
  const recoverAsSuccessor = () => {
    const { ctx } = t.node;
    return recoverUnfinishedFlows({ db: ctx.db, registry: ctx.flows, nodeUuid: ctx.flowEngine.nodeUuid, claimAs: 'successor-node', services: { db: ctx.db, bus: ctx.bus, tags: ctx.tags, agents: ctx.agents } });
  };

  beforeAll(async () => {
    t = await startTestNode(kind, { modules: [freezer.module] });
    c = await t.login();
    w = await buildVmWorld(c, 'vfr');
  });
  afterAll(async () => t?.stop());

  /** Freeze the flow at `point`, recover it as a successor, check nothing is left of it, then let the frozen run go on: it must stop without compensating twice. */
  async function crashAndRecover(vmUuid: string, chainName: string, point: string, body: unknown, midway: () => Promise<void>) {
    const before = await accounting(db(), w);
    const rowBefore = await vmRow(vmUuid);
    const agentsBefore = runningOn(vmUuid);
    const { release, reply } = await freezer.freezeAt(point, () => action(vmUuid, body));
    await midway();
    const reports = await recoverAsSuccessor();
    expect(reports.map((r) => [r.chainName, r.resourceUuid, r.state, r.rollbackErrors])).toEqual([[chainName, vmUuid, 'RolledBack', []]]);
    const check = async () => {
      expect(await accounting(db(), w)).toEqual(before);
      expect(await vmRow(vmUuid)).toEqual(rowBefore);
      expect(runningOn(vmUuid)).toEqual(agentsBefore);
    };
    await check();
    release();
    const r = await reply;
    expect(r.status, r.text).toBe(503);
    expect(r.body.error.code).toBe(SysErrors.FLOW_ABANDONED.code);
    await check();
  }

  it('MigrateVm: stopped after the agent moved the VM; recovery moves it back, frees the target and leaves it Running on its source', async () => {
    const [a, b] = w.hosts;
    const vm = (await c.call('POST', '/vm-instances', { params: { name: 'vfr-mover', instanceOfferingUuid: w.offering, imageUuid: w.image, l3NetworkUuids: [w.l3], hostUuid: a } })).inventory;
    await crashAndRecover(vm.uuid, 'vm.migrate', AfterVmMigratedOnHost.name, { migrateVm: { hostUuid: b } }, async () => {
      // Half done, as a dead node would leave it: the VM on the target, Migrating, both hosts charged.
      expect(runningOn(vm.uuid)).toEqual([b]);
      expect((await vmRow(vm.uuid)).state).toBe('Migrating');
    });
    expect((await action(vm.uuid, { migrateVm: { hostUuid: b } })).body.inventory).toMatchObject({ state: 'Running', hostUuid: b });
  });

  it('StartVmInstance: stopped after the agent started the VM; recovery destroys it there, frees the host and leaves it Stopped', async () => {
    const vm = (await c.call('POST', '/vm-instances', { params: { name: 'vfr-sleeper', instanceOfferingUuid: w.offering, imageUuid: w.image, l3NetworkUuids: [w.l3], strategy: 'CreateStopped' } })).inventory;
    await crashAndRecover(vm.uuid, 'vm.start', AfterVmStartedOnHost.name, { startVmInstance: {} }, async () => {
      expect(runningOn(vm.uuid)).toHaveLength(1);
      expect((await vmRow(vm.uuid)).state).toBe('Starting');
    });
    expect((await action(vm.uuid, { startVmInstance: {} })).body.inventory.state).toBe('Running');
  });
});
