import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freshTestDatabase, migrate, testDatabaseKinds, type TestDatabase } from '../db/index.ts';
import { StratoError, SysErrors } from '../errors/index.ts';
import { newUuid } from '../util/uuid.ts';
import { defineChain } from './chain.ts';
import { FlowEngine } from './engine.ts';
import { FlowJournal, flowMigrations } from './journal.ts';
import { FlowRegistry } from './registry.ts';
import { noRollback, type FlowStep } from './step.ts';
import { captureLog, recStep, type Trace } from './testing/recording.ts';

describe.each(testDatabaseKinds())('flow journal on %s', (kind) => {
  let t: TestDatabase;
  let registry: FlowRegistry;
  let engine: FlowEngine;
  let journal: FlowJournal;
  const node = newUuid();
  beforeEach(async () => {
    t = await freshTestDatabase(kind);
    await migrate(t, flowMigrations);
    registry = new FlowRegistry();
    engine = new FlowEngine({ registry, db: t, nodeUuid: node, log: captureLog() });
    journal = new FlowJournal(t.db);
  });
  afterEach(async () => { await t.drop(); });

  const rows = () => t.db.selectFrom('flow_journal').selectAll().execute();

  it('marks a finished flow Done with every executed path, nested ones as outer/inner/step, and the final ctx', async () => {
    const inner = defineChain<{ n: number }>('j.inner', [{ name: 'x', run: (c) => { c.n += 10; }, rollback: noRollback }]);
    const chain = defineChain<{ n: number }>('j.done', [{ name: 'a', run: (c) => { c.n += 1; }, rollback: noRollback }, inner]);
    registry.registerChain(chain);
    const resourceUuid = newUuid();
    await engine.run(chain, { n: 0 }, { resourceUuid });
    const [r] = await rows();
    expect(r).toMatchObject({ chainName: 'j.done', state: 'Done', nodeUuid: node, resourceUuid, error: null });
    expect(JSON.parse(r.executed)).toEqual(['j.done/a', 'j.done/j.inner/x']);
    expect(JSON.parse(r.ctx)).toEqual({ n: 11 });
    expect(Number(r.createDate)).toBeGreaterThan(0);
    expect(Number(r.lastOpDate)).toBeGreaterThanOrEqual(Number(r.createDate));
  });

  it('has journaled the completed steps and their ctx before the next step starts', async () => {
    const seen: unknown[] = [];
    const peek: FlowStep<{ v: string[] }> = {
      name: 'peek',
      run: async (_c, env) => {
        const r = await journal.get(env.flowId);
        seen.push({ state: r?.state, executed: r?.executed, ctx: JSON.parse(r!.ctx) });
      },
      rollback: () => {},
    };
    const write = (n: string): FlowStep<{ v: string[] }> => ({ name: n, run: (c) => { c.v.push(n); }, rollback: noRollback });
    const chain = defineChain<{ v: string[] }>('j.ahead', [write('a'), write('b'), peek]);
    registry.registerChain(chain);
    await engine.run(chain, { v: [] });
    expect(seen).toEqual([{ state: 'Running', executed: ['j.ahead/a', 'j.ahead/b'], ctx: { v: ['a', 'b'] } }]);
  });

  it('with group commit, twenty concurrent flows each see their own journal before their next step and end Done', async () => {
    const grouped = new FlowEngine({ registry, db: t, nodeUuid: node, groupCommit: true, log: captureLog() });
    const seen: unknown[] = [];
    const peek: FlowStep<{ v: string[]; id: number }> = {
      name: 'peek',
      run: async (c, env) => {
        const r = await journal.get(env.flowId);
        seen.push({ id: c.id, executed: r?.executed, ctx: JSON.parse(r!.ctx) });
      },
      rollback: () => {},
    };
    const write = (n: string): FlowStep<{ v: string[]; id: number }> => ({ name: n, run: (c) => { c.v.push(n); }, rollback: () => {} });
    const chain = defineChain<{ v: string[]; id: number }>('j.grouped', [write('a'), write('b'), peek]);
    registry.registerChain(chain);
    await Promise.all(Array.from({ length: 20 }, (_, id) => grouped.run(chain, { v: [], id })));
    expect(seen).toHaveLength(20);
    for (const x of seen as Array<{ id: number }>) expect(x).toEqual({ id: x.id, executed: ['j.grouped/a', 'j.grouped/b'], ctx: { v: ['a', 'b'], id: x.id } });
    expect((await rows()).filter((r) => r.chainName === 'j.grouped').map((r) => r.state)).toEqual(Array(20).fill('Done'));
  });

  it('starts a step without rollback before journaling its predecessor; the next step with a rollback journals both', async () => {
    const seen: unknown[] = [];
    const peek = (n: string, rollback: FlowStep<{ v: string[] }>['rollback']): FlowStep<{ v: string[] }> => ({
      name: n,
      run: async (c, env) => {
        seen.push([n, (await journal.get(env.flowId))!.executed]);
        c.v.push(n);
      },
      rollback,
    });
    const chain = defineChain<{ v: string[] }>('j.lazy', [peek('a', () => {}), peek('b', noRollback), peek('c', () => {}), peek('d', noRollback)]);
    registry.registerChain(chain);
    await engine.run(chain, { v: [] });
    expect(seen).toEqual([['a', []], ['b', []], ['c', ['j.lazy/a', 'j.lazy/b']], ['d', ['j.lazy/a', 'j.lazy/b']]]);
    const [r] = await rows();
    expect(JSON.parse(r.executed)).toEqual(['j.lazy/a', 'j.lazy/b', 'j.lazy/c', 'j.lazy/d']);
  });

  it('journals ctx on checkpoint while a step is still running', async () => {
    let during: unknown;
    const chain = defineChain<{ file?: string }>('j.cp', [{
      name: 'make',
      run: async (c, env) => { c.file = '/tmp/x'; await env.checkpoint(); during = JSON.parse((await journal.get(env.flowId))!.ctx); },
      rollback: noRollback,
    }]);
    registry.registerChain(chain);
    await engine.run(chain, {});
    expect(during).toEqual({ file: '/tmp/x' });
  });

  it('marks a failed flow RolledBack with its error, or RollbackFailed when a compensation failed', async () => {
    const tr: Trace = { calls: [] };
    const ok = defineChain('j.rb', [recStep('a', tr), recStep('b', tr, { fail: new StratoError(SysErrors.OPERATION_ERROR, 'b failed') })]);
    const bad = defineChain('j.rbf', [recStep('a', tr, { failRollback: new Error('stuck') }), recStep('b', tr, { fail: new StratoError(SysErrors.OPERATION_ERROR, 'b failed') })]);
    registry.registerChain(ok);
    registry.registerChain(bad);
    await expect(engine.run(ok, {})).rejects.toThrow('b failed');
    await expect(engine.run(bad, {})).rejects.toThrow('b failed');
    const byChain = Object.fromEntries((await rows()).map((r) => [r.chainName, r]));
    expect(byChain['j.rb'].state).toBe('RolledBack');
    expect(JSON.parse(byChain['j.rb'].error)).toMatchObject({ code: 'SYS.1006', details: 'b failed' });
    expect(JSON.parse(byChain['j.rb'].executed)).toEqual(['j.rb/a', 'j.rb/b']);
    expect(byChain['j.rbf'].state).toBe('RollbackFailed');
    expect(JSON.parse(byChain['j.rbf'].error).opaque.rollbackErrors[0]).toMatchObject({ step: 'j.rbf/a', error: { details: 'stuck' } });
  });

  it('refuses to journal a chain that is not registered (recovery could not find it)', async () => {
    await expect(engine.run(defineChain('j.unreg', []), {})).rejects.toThrow(/must be registered/);
    expect(await rows()).toEqual([]);
  });

  it('runs without writing anything when journal: false', async () => {
    await engine.run(defineChain('j.mem', [recStep('a', { calls: [] })]), {}, { journal: false });
    expect(await rows()).toEqual([]);
  });

  it('stops a flow another node took over, without compensating it twice', async () => {
    const tr: Trace = { calls: [] };
    const chain = defineChain('j.fence', [
      recStep('a', tr),
      { name: 'taken', run: async (_c, env) => { await t.db.updateTable('flow_journal').set({ nodeUuid: newUuid() }).where('id', '=', env.flowId).execute(); }, rollback: noRollback },
      recStep('b', tr),
    ]);
    registry.registerChain(chain);
    const err = await engine.run(chain, {}).catch((e) => e);
    expect(err.errorCode.code).toBe(SysErrors.FLOW_ABANDONED.code);
    expect(tr.calls).toEqual(['run:a']);
    expect((await rows())[0].state).toBe('Running');
  });

  it('prunes finished rows older than a date but keeps RollbackFailed ones', async () => {
    await journal.start({ id: 'a'.repeat(32), chainName: 'c', resourceUuid: null, nodeUuid: node, ctx: '{}', now: 1 });
    await journal.start({ id: 'b'.repeat(32), chainName: 'c', resourceUuid: null, nodeUuid: node, ctx: '{}', now: 1 });
    await journal.finish('a'.repeat(32), node, 'Done', '{}', '[]', null, 5);
    await journal.finish('b'.repeat(32), node, 'RollbackFailed', '{}', '[]', null, 5);
    expect(await journal.prune(10)).toBe(1);
    expect((await rows()).map((r) => r.state)).toEqual(['RollbackFailed']);
  });
});
