import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VmAgentPaths } from '../src/contracts/vm.ts';
import type { AgentClient } from '../src/core/agent/index.ts';
import type { StepEnv } from '../src/core/flow/index.ts';
import { migrateOnHost } from '../src/services/vm/flows/migrate-on-host.ts';
import type { MigrateVmCtx } from '../src/services/vm/flows/migrate-vm-ctx.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';
import { buildVmWorld, type VmWorld } from './support/vm-fixture.ts';

/**
 * The rollback of `migrate-on-host` decides from what the target's agent says: a VM that arrived is
 * migrated back; one still arriving (its `-incoming` QEMU waits for a source that died, or for a copy the
 * node stopped waiting for) is dropped there with the synchronous `/vm/migrate/abort`, not migrated back
 * (the target's agent refuses to migrate an arriving VM, which left the flow RollbackFailed and the paused
 * QEMU on the target). The agents here answer as the real one does (test/agent/migration.test.ts shows
 * the real agent's `arriving` list and abort).
 */
describe('MigrateVm rollback by what the target reports', () => {
  let t: TestNode;
  let c: TestClient;
  let w: VmWorld;
  let vm: string;

  beforeAll(async () => {
    t = await startTestNode('sqlite');
    c = await t.login();
    w = await buildVmWorld(c, 'mig-rb');
    vm = (await c.call('POST', '/vm-instances', { params: { name: 'mover', instanceOfferingUuid: w.offering, imageUuid: w.image, l3NetworkUuids: [w.l3], hostUuid: w.hosts[0] } })).inventory.uuid;
  });
  afterAll(async () => t?.stop());

  /** Rolls the step back with agents that answer checkstate with `target` and record every call. */
  async function rollBack(target: { states: Record<string, string>; arriving?: string[] }): Promise<Array<{ path: string; sync: boolean; host: unknown }>> {
    const calls: Array<{ path: string; sync: boolean; host: unknown }> = [];
    const answer = (sync: boolean) => async (_endpoint: unknown, path: string, body: { hostUuid?: string }) => {
      calls.push({ path, sync, host: body.hostUuid });
      return path === VmAgentPaths.checkState ? { success: true, ...target } : { success: true };
    };
    const agents = { call: answer(false), callSync: answer(true) } as unknown as AgentClient;
    const step = migrateOnHost({ extensions: t.node.ctx.extensions, agents });
    const ctx = { uuid: vm, sourceHostUuid: w.hosts[0], target: { hostUuid: w.hosts[1] }, migrateSent: true } as unknown as MigrateVmCtx;
    await step.rollback(ctx, { services: { db: t.node.ctx.db } } as unknown as StepEnv);
    return calls;
  }

  it('drops a VM still arriving at the target with a synchronous abort there, and does not migrate it back', async () => {
    expect(await rollBack({ states: { [vm]: 'Paused' }, arriving: [vm] })).toEqual([
      { path: VmAgentPaths.checkState, sync: false, host: w.hosts[1] },
      { path: VmAgentPaths.migrateAbort, sync: true, host: w.hosts[1] },
    ]);
  });

  it('migrates back a VM that arrived (running or paused)', async () => {
    for (const state of ['Running', 'Paused']) {
      expect(await rollBack({ states: { [vm]: state }, arriving: [] })).toEqual([
        { path: VmAgentPaths.checkState, sync: false, host: w.hosts[1] },
        { path: VmAgentPaths.migrate, sync: false, host: w.hosts[1] },
      ]);
    }
  });

  it('leaves the target alone when the VM never got there', async () => {
    expect(await rollBack({ states: { [vm]: 'Stopped' } })).toEqual([{ path: VmAgentPaths.checkState, sync: false, host: w.hosts[1] }]);
  });
});
