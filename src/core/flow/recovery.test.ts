import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freshTestDatabase, migrate, testDatabaseKinds, type TestDatabase } from '../db/index.ts';
import { SysErrors } from '../errors/index.ts';
import { newUuid } from '../util/uuid.ts';
import { defineChain, type FlowChain } from './chain.ts';
import { FlowEngine } from './engine.ts';
import { FlowJournal, flowMigrations } from './journal.ts';
import { recoverUnfinishedFlows } from './recovery.ts';
import { FlowRegistry } from './registry.ts';
import type { FlowStep } from './step.ts';
import { captureLog, recStep, type Trace } from './testing/recording.ts';

describe.each(testDatabaseKinds())('flow recovery on %s', (kind) => {
  let t: TestDatabase;
  let journal: FlowJournal;
  const deadNode = newUuid();
  const log = captureLog();
  beforeEach(async () => {
    t = await freshTestDatabase(kind);
    await migrate(t, flowMigrations);
    journal = new FlowJournal(t.db);
  });
  afterEach(async () => { await t.drop(); });

  /** A journal row as a node that died after completing `executed` would have left it. */
  async function abandoned(chain: string, executed: string[], ctx: object = {}, nodeUuid = deadNode): Promise<string> {
    const id = newUuid();
    await journal.start({ id, chainName: chain, resourceUuid: null, nodeUuid, ctx: JSON.stringify(ctx), now: Date.now() });
    if (executed.length) await journal.progress(id, nodeUuid, JSON.stringify(ctx), JSON.stringify(executed), Date.now());
    return id;
  }

  function registryWith(...chains: FlowChain<any>[]): FlowRegistry {
    const r = new FlowRegistry();
    for (const c of chains) r.registerChain(c);
    return r;
  }

  it('rolls back a flow whose node stopped mid-step: the running step first, then the completed ones in reverse', async () => {
    const tr: Trace = { calls: [] };
    const hang: FlowStep<object> = { name: 'c', run: () => { tr.calls.push('run:c'); return new Promise<void>(() => {}); }, rollback: () => { tr.calls.push('rollback:c'); } };
    const chain = defineChain('r.live', [recStep('a', tr), recStep('b', tr), hang, recStep('d', tr)]);
    const registry = registryWith(chain);
    const engine = new FlowEngine({ registry, db: t, nodeUuid: deadNode, log });
    void engine.run(chain, {});
    while (!tr.calls.includes('run:c')) await new Promise((r) => setTimeout(r, 5));

    // The "restarted node": a fresh registry with the same chain, recovering the dead node's rows.
    const reports = await recoverUnfinishedFlows({ db: t, registry: registryWith(chain), nodeUuid: deadNode, log });
    expect(tr.calls).toEqual(['run:a', 'run:b', 'run:c', 'rollback:c', 'rollback:b', 'rollback:a']);
    expect(reports).toMatchObject([{ chainName: 'r.live', state: 'RolledBack', rolledBack: ['r.live/c', 'r.live/b', 'r.live/a'], rollbackErrors: [] }]);
    const row = (await journal.running()).length;
    expect(row).toBe(0);
    const [r] = await t.db.selectFrom('flow_journal').selectAll().execute();
    expect(r.state).toBe('RolledBack');
    expect(JSON.parse(r.error).code).toBe(SysErrors.FLOW_ABANDONED.code);
  });

  it('derives the interrupted step with the journaled ctx, passing over skipped steps and entering nested chains', async () => {
    const tr: Trace = { calls: [] };
    const inner = defineChain<{ skipB?: boolean }>('in', [recStep('x', tr), recStep('y', tr)]);
    const chain = defineChain<{ skipB?: boolean }>('r.skip', [recStep('a', tr), { ...recStep('b', tr), skip: (c) => c.skipB === true }, inner]);
    await abandoned('r.skip', ['r.skip/a'], { skipB: true });
    await recoverUnfinishedFlows({ db: t, registry: registryWith(chain), nodeUuid: deadNode, log });
    expect(tr.calls).toEqual(['rollback:x', 'rollback:a']);

    tr.calls.length = 0;
    await abandoned('r.skip', ['r.skip/a', 'r.skip/b', 'r.skip/in/x']);
    await recoverUnfinishedFlows({ db: t, registry: registryWith(chain), nodeUuid: deadNode, log });
    expect(tr.calls).toEqual(['rollback:y', 'rollback:x', 'rollback:b', 'rollback:a']);
  });

  it('rolls back everything when every step had finished but the flow was not marked Done', async () => {
    const tr: Trace = { calls: [] };
    const chain = defineChain('r.all', [recStep('a', tr), recStep('b', tr)]);
    await abandoned('r.all', ['r.all/a', 'r.all/b']);
    await recoverUnfinishedFlows({ db: t, registry: registryWith(chain), nodeUuid: deadNode, log });
    expect(tr.calls).toEqual(['rollback:b', 'rollback:a']);
  });

  it('marks RollbackFailed with the errors when a compensation fails, or the chain is unknown here', async () => {
    const chain = defineChain('r.fail', [recStep('a', { calls: [] }, { failRollback: new Error('disk gone') })]);
    const failing = await abandoned('r.fail', ['r.fail/a']);
    const unknown = await abandoned('r.unknown', ['r.unknown/a']);
    const reports = await recoverUnfinishedFlows({ db: t, registry: registryWith(chain), nodeUuid: deadNode, log });
    expect(reports.map((r) => r.state)).toEqual(['RollbackFailed', 'RollbackFailed']);
    expect((await journal.get(failing))!.error!.opaque!.rollbackErrors).toEqual([{ step: 'r.fail/a', error: expect.objectContaining({ details: 'disk gone' }) }]);
    expect(JSON.stringify((await journal.get(unknown))!.error)).toMatch(/no chain named r.unknown/);
  });

  it('marks a row with an unreadable ctx RollbackFailed and still recovers the others', async () => {
    const tr: Trace = { calls: [] };
    const chain = defineChain('r.bad', [recStep('a', tr)]);
    const bad = await abandoned('r.bad', ['r.bad/a']);
    await t.db.updateTable('flow_journal').set({ ctx: '{not json' }).where('id', '=', bad).execute();
    const good = await abandoned('r.bad', ['r.bad/a']);
    const reports = await recoverUnfinishedFlows({ db: t, registry: registryWith(chain), nodeUuid: deadNode, log });
    expect(Object.fromEntries(reports.map((r) => [r.flowId, r.state]))).toEqual({ [bad]: 'RollbackFailed', [good]: 'RolledBack' });
    expect(tr.calls).toEqual(['rollback:a']);
    expect((await journal.get(bad))!.state).toBe('RollbackFailed');
  });

  it('takes over only the rows chosen by node uuid or predicate, claiming them for the recovering node', async () => {
    const tr: Trace = { calls: [] };
    const chain = defineChain('r.pick', [recStep('a', tr)]);
    const other = newUuid();
    const me = newUuid();
    await abandoned('r.pick', ['r.pick/a'], {}, other);
    const mine = await abandoned('r.pick', ['r.pick/a'], { pick: true });
    await recoverUnfinishedFlows({ db: t, registry: registryWith(chain), owns: (e) => JSON.parse(e.ctx).pick === true, claimAs: me, log });
    expect(tr.calls).toEqual(['rollback:a']);
    expect(await journal.get(mine)).toMatchObject({ state: 'RolledBack', nodeUuid: me });
    expect((await journal.running()).map((e) => e.nodeUuid)).toEqual([other]);
  });

  it('lets only one of two concurrent recoveries roll a flow back', async () => {
    const tr: Trace = { calls: [] };
    const chain = defineChain('r.race', [recStep('a', tr)]);
    await abandoned('r.race', ['r.race/a']);
    const [r1, r2] = await Promise.all([
      recoverUnfinishedFlows({ db: t, registry: registryWith(chain), nodeUuid: deadNode, claimAs: newUuid(), log }),
      recoverUnfinishedFlows({ db: t, registry: registryWith(chain), nodeUuid: deadNode, claimAs: newUuid(), log }),
    ]);
    expect(r1.length + r2.length).toBe(1);
    expect(tr.calls).toEqual(['rollback:a']);
  });

  it('leaves the flows its own engine is still running alone', async () => {
    const tr: Trace = { calls: [] };
    let release!: () => void;
    const gate: FlowStep<object> = { name: 'gate', run: () => new Promise<void>((r) => { release = r; }), rollback: () => { tr.calls.push('rollback:gate'); } };
    const chain = defineChain('r.own', [gate]);
    const engine = new FlowEngine({ registry: registryWith(chain), db: t, nodeUuid: deadNode, log });
    const running = engine.run(chain, {});
    while (!release) await new Promise((r) => setTimeout(r, 5));
    expect(await engine.recover()).toEqual([]);
    release();
    await running;
    expect(tr.calls).toEqual([]);
  });
});
