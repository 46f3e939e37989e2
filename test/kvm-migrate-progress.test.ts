import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VmAgentPaths } from '../src/contracts/vm.ts';
import type { TaskProgressStore } from '../src/core/progress/index.ts';
import { newUuid } from '../src/core/util/uuid.ts';
import { kvmMigrateTarget } from '../src/plugins/kvm/migrate-target.ts';
import { startTestNode, type TestNode } from './support/test-node.ts';
import { buildVmWorld } from './support/vm-fixture.ts';

/**
 * The KVM plugin files a migration's progress under MigrateVm's job only from the migration's source
 * host (the report route hands handlers the signer as hostUuid): another host's agent, though it can
 * sign reports, cannot move someone else's progress bar.
 */
describe('KVM migration progress reports', () => {
  let t: TestNode;
  let hosts: string[];
  beforeAll(async () => {
    t = await startTestNode('sqlite');
    hosts = (await buildVmWorld(await t.login(), 'migprog', { hosts: 3 })).hosts;
  }, 60_000);
  afterAll(async () => t?.stop());

  it('takes the source host’s percentages and ignores any other host’s', async () => {
    const seen: number[] = [];
    const progress = { reporter: () => (p: number) => void seen.push(p) } as unknown as TaskProgressStore;
    const m = kvmMigrateTarget(t.node.ctx.db, progress);
    const vm = newUuid();
    const [source, dest, other] = hosts;
    const cmd = await m.decorator.decorate(VmAgentPaths.migrate, { vmInstanceUuid: vm, destHostUuid: dest }, source);
    expect(cmd).toMatchObject({ destAgentToken: expect.any(String) });
    expect(await m.progressHandler.handle({ hostUuid: other, vmInstanceUuid: vm, percent: 90 })).toEqual({ delivered: false });
    expect(await m.progressHandler.handle({ hostUuid: dest, vmInstanceUuid: vm, percent: 95 })).toEqual({ delivered: false });
    expect(await m.progressHandler.handle({ hostUuid: source, vmInstanceUuid: vm, percent: 40 })).toEqual({ delivered: true });
    expect(seen).toEqual([40]);
  });
});
