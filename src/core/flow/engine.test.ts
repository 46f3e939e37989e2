import { describe, expect, it } from 'vitest';
import { StratoError, SysErrors } from '../errors/index.ts';
import { runWithContext, currentContext } from '../bus/context.ts';
import { defineChain, insertionPoint } from './chain.ts';
import { FlowEngine, runChain } from './engine.ts';
import { FlowRegistry } from './registry.ts';
import { noRollback, stepFailed, type FlowStep } from './step.ts';
import { captureLog, recStep, type Trace } from './testing/recording.ts';

const boom = (msg = 'boom') => new StratoError(SysErrors.OPERATION_ERROR, msg);

describe('flow chains in memory', () => {
  it('runs steps in order and resolves with the ctx the steps wrote', async () => {
    const chain = defineChain<{ out: string[] }>('t.order', [
      { name: 'a', run: (c) => { c.out.push('a'); }, rollback: noRollback },
      { name: 'b', run: async (c) => { c.out.push('b'); }, rollback: noRollback },
    ]);
    const ctx = await runChain(chain, { out: [] as string[] });
    expect(ctx.out).toEqual(['a', 'b']);
  });

  it('rolls back every executed step in reverse order, the failing step included', async () => {
    const t: Trace = { calls: [] };
    const chain = defineChain('t.flat', [recStep('a', t), recStep('b', t), recStep('c', t, { fail: boom() }), recStep('d', t)]);
    await expect(runChain(chain, {}, { log: captureLog() })).rejects.toThrow('boom');
    expect(t.calls).toEqual(['run:a', 'run:b', 'run:c', 'rollback:c', 'rollback:b', 'rollback:a']);
  });

  it('rolls back nested chains step by step, innermost last-run first', async () => {
    const t: Trace = { calls: [] };
    const inner = defineChain('t.inner', [recStep('i1', t), recStep('i2', t)]);
    const chain = defineChain('t.outer', [recStep('a', t), inner, recStep('b', t), recStep('c', t, { fail: boom() })]);
    await expect(runChain(chain, {}, { log: captureLog() })).rejects.toThrow('boom');
    expect(t.calls).toEqual(['run:a', 'run:i1', 'run:i2', 'run:b', 'run:c', 'rollback:c', 'rollback:b', 'rollback:i2', 'rollback:i1', 'rollback:a']);
  });

  it('rolls back the outer steps when a nested chain fails inside', async () => {
    const t: Trace = { calls: [] };
    const inner = defineChain('t.inner', [recStep('i1', t), recStep('i2', t, { fail: boom() }), recStep('i3', t)]);
    const chain = defineChain('t.outer', [recStep('a', t), inner, recStep('b', t)]);
    await expect(runChain(chain, {}, { log: captureLog() })).rejects.toThrow('boom');
    expect(t.calls).toEqual(['run:a', 'run:i1', 'run:i2', 'rollback:i2', 'rollback:i1', 'rollback:a']);
  });

  it('treats a returned stepFailed like a thrown error and keeps its code', async () => {
    const t: Trace = { calls: [] };
    const chain = defineChain('t.returned', [recStep('a', t), recStep('b', t, { fail: () => stepFailed(SysErrors.NO_CAPABILITY_ERROR, 'no host') })]);
    const err = await runChain(chain, {}, { log: captureLog() }).catch((e) => e);
    expect(err).toBeInstanceOf(StratoError);
    expect(err.errorCode.code).toBe('SYS.1013');
    expect(err.errorCode.details).toBe('no host');
    expect(t.calls).toEqual(['run:a', 'run:b', 'rollback:b', 'rollback:a']);
  });

  it('records a failing rollback without hiding the original error and still runs the remaining rollbacks', async () => {
    const t: Trace = { calls: [] };
    const log = captureLog();
    const chain = defineChain('t.rbfail', [recStep('a', t), recStep('b', t, { failRollback: new Error('cannot undo b') }), recStep('c', t, { fail: boom('original') })]);
    const err = await runChain(chain, {}, { log }).catch((e) => e);
    expect(err).toBeInstanceOf(StratoError);
    expect(err.errorCode.code).toBe(SysErrors.OPERATION_ERROR.code);
    expect(err.errorCode.details).toBe('original');
    expect(err.errorCode.opaque.rollbackErrors).toEqual([{ step: 't.rbfail/b', error: expect.objectContaining({ code: 'SYS.1000', details: 'cannot undo b' }) }]);
    expect(t.calls).toEqual(['run:a', 'run:b', 'run:c', 'rollback:c', 'rollback:b', 'rollback:a']);
    expect(log.lines.some((l) => l.level === 'error' && (l.obj as any).step === 't.rbfail/b')).toBe(true);
  });

  it('wraps a non-StratoError as SYS.1000 carrying its message', async () => {
    const chain = defineChain('t.plain', [recStep('a', { calls: [] }, { fail: new TypeError('bad type') })]);
    const err = await runChain(chain, {}, { log: captureLog() }).catch((e) => e);
    expect(err).toBeInstanceOf(StratoError);
    expect(err.errorCode).toMatchObject({ code: 'SYS.1000', details: 'bad type' });
  });

  it('skips steps and nested chains whose skip says so, and does not roll them back', async () => {
    const t: Trace = { calls: [] };
    const skippedChain = defineChain('t.sk', [recStep('s1', t)], { skip: () => true });
    const chain = defineChain('t.skip', [recStep('a', t), recStep('b', t, { skip: true }), skippedChain, recStep('c', t, { fail: boom() })]);
    await expect(runChain(chain, {}, { log: captureLog() })).rejects.toThrow();
    expect(t.calls).toEqual(['run:a', 'run:c', 'rollback:c', 'rollback:a']);
  });

  it('does not call a noRollback step on rollback', async () => {
    const t: Trace = { calls: [] };
    const chain = defineChain('t.norb', [recStep('a', t, { noRb: true }), recStep('b', t, { fail: boom() })]);
    await expect(runChain(chain, {}, { log: captureLog() })).rejects.toThrow();
    expect(t.calls).toEqual(['run:a', 'run:b', 'rollback:b']);
  });

  it('runs plugin steps inserted at an insertion point, ordered, and rolls them back too', async () => {
    const t: Trace = { calls: [] };
    const point = insertionPoint<object>('t.point');
    const chain = defineChain('t.ins', [recStep('a', t), point, recStep('b', t, { fail: boom() })]);
    const registry = new FlowRegistry();
    registry.insert(point, recStep('late', t), { order: 20 });
    registry.insert('t.point', recStep('early', t), { order: -5 });
    await expect(runChain(chain, {}, { registry, log: captureLog() })).rejects.toThrow();
    expect(t.calls).toEqual(['run:a', 'run:early', 'run:late', 'run:b', 'rollback:b', 'rollback:late', 'rollback:early', 'rollback:a']);
    expect([...registry.plan(chain).steps.keys()]).toEqual(['t.ins/a', 't.ins/t.point/early', 't.ins/t.point/late', 't.ins/b']);
  });

  it('picks up steps inserted after the chain already ran once', async () => {
    const t: Trace = { calls: [] };
    const chain = defineChain('t.late', [recStep('a', t), insertionPoint('t.late.point')]);
    const registry = new FlowRegistry();
    await runChain(chain, {}, { registry });
    registry.insert('t.late.point', recStep('p', t));
    await runChain(chain, {}, { registry });
    expect(t.calls).toEqual(['run:a', 'run:a', 'run:p']);
  });

  it('runs steps inside the caller\'s RequestContext so nested calls inherit the deadline', async () => {
    let seen: number | undefined;
    const chain = defineChain('t.ctx', [{ name: 'a', run: () => { seen = currentContext()?.deadline; }, rollback: noRollback }]);
    const deadline = Date.now() + 60_000;
    await runWithContext({ deadline }, () => runChain(chain, {}));
    expect(seen).toBe(deadline);
  });

  it('fails with SYS.1001 and rolls back when the deadline passes between steps', async () => {
    const t: Trace = { calls: [] };
    const slow: FlowStep<object> = { name: 'slow', run: async () => { t.calls.push('run:slow'); await new Promise((r) => setTimeout(r, 530)); }, rollback: () => { t.calls.push('rollback:slow'); } };
    const chain = defineChain('t.deadline', [recStep('a', t), slow, recStep('never', t)]);
    const err = await runChain(chain, {}, { timeoutMs: 500, log: captureLog() }).catch((e) => e); // room to reach the steps on a loaded machine
    expect(err.errorCode.code).toBe(SysErrors.TIMEOUT.code);
    expect(t.calls).toEqual(['run:a', 'run:slow', 'rollback:slow', 'rollback:a']);
  });

  it('rolls back a chain whose last step ends after the deadline: the caller was told it timed out', async () => {
    const t: Trace = { calls: [] };
    const slow: FlowStep<object> = { name: 'slow', run: async () => { t.calls.push('run:slow'); await new Promise((r) => setTimeout(r, 530)); }, rollback: () => { t.calls.push('rollback:slow'); } };
    const chain = defineChain('t.lateend', [recStep('a', t), slow]);
    const err = await runChain(chain, {}, { timeoutMs: 500, log: captureLog() }).catch((e) => e); // room to reach the steps on a loaded machine
    expect(err.errorCode.code).toBe(SysErrors.TIMEOUT.code);
    expect(t.calls).toEqual(['run:a', 'run:slow', 'rollback:slow', 'rollback:a']);
  });

  it('gives rollbacks a fresh deadline instead of the expired one', async () => {
    let rollbackDeadline = 0;
    // Step a runs past the deadline; the deadline leaves room for a loaded machine to reach step a at all
    // (with 5 ms, a stall before the first step expired the chain before a ran, and nothing was rolled back).
    const deadline = Date.now() + 2000;
    const chain = defineChain('t.rbdeadline', [
      { name: 'a', run: async () => { await new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now()) + 20)); }, rollback: () => { rollbackDeadline = currentContext()!.deadline; } },
      recStep('b', { calls: [] }),
    ]);
    await runWithContext({ deadline }, () => runChain(chain, {}, { log: captureLog() })).catch(() => {});
    expect(rollbackDeadline).toBeGreaterThan(Date.now() + 60_000);
  });

  it('refuses a step without rollback, duplicate names and names with a slash', () => {
    expect(() => defineChain('t.x', [{ name: 'a', run: () => {} } as any])).toThrow(/noRollback/);
    expect(() => defineChain('t.x', [recStep('a', { calls: [] }), recStep('a', { calls: [] })])).toThrow(/twice/);
    expect(() => defineChain('t.x', [recStep('a/b', { calls: [] })])).toThrow(/without '\/'/);
  });

  it('refuses a chain that contains itself through an insertion point', () => {
    const registry = new FlowRegistry();
    const chain = defineChain('t.self', [insertionPoint('t.self.p')]);
    registry.insert('t.self.p', chain);
    expect(() => registry.plan(chain)).toThrow(/contains itself/);
  });

  it('refuses to journal on an engine without a database', async () => {
    const engine = new FlowEngine({ registry: new FlowRegistry() });
    await expect(engine.run(defineChain('t.j', []), {}, { journal: true })).rejects.toThrow(/no database/);
  });
});
