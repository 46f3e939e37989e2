import { describe, it, expect } from 'vitest';
import { AsyncLocalStorage } from 'node:async_hooks';
import { Registry } from 'prom-client';
import { WorkQueues } from './work-queues.ts';
import { StratoError, SysErrors } from '../errors/error-code.ts';
import { currentContext, runWithContext } from '../bus/context.ts';

function newQueues(defaultMaxPending?: number) {
  const metrics = new Registry();
  return { queues: new WorkQueues({ metrics, defaultMaxPending }), metrics };
}

/** A promise the test resolves by hand, to hold a task in its slot. */
function gate<T = void>() {
  let open!: (v: T) => void;
  const p = new Promise<T>((r) => (open = r));
  return { p, open };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('WorkQueues', () => {
  it('runs tasks of one signature one at a time, in submission order', async () => {
    const { queues } = newQueues();
    const log: string[] = [];
    let running = 0;
    let maxRunning = 0;
    const tasks = Array.from({ length: 20 }, (_, i) =>
      queues.submit('vm-1', async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        log.push(`start ${i}`);
        await tick();
        log.push(`end ${i}`);
        running--;
        return i;
      }),
    );
    expect(await Promise.all(tasks)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(maxRunning).toBe(1);
    expect(log).toEqual(Array.from({ length: 20 }, (_, i) => [`start ${i}`, `end ${i}`]).flat());
  });

  it('runs at most syncLevel tasks of one signature at once', async () => {
    const { queues } = newQueues();
    let running = 0;
    let maxRunning = 0;
    const started: number[] = [];
    await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        queues.submit(
          'host-1',
          async () => {
            started.push(i);
            running++;
            maxRunning = Math.max(maxRunning, running);
            await tick();
            await tick();
            running--;
          },
          { syncLevel: 3 },
        ),
      ),
    );
    expect(maxRunning).toBe(3);
    expect(started).toEqual([...started].sort((a, b) => a - b));
  });

  it('runs different signatures in parallel', async () => {
    const { queues } = newQueues();
    const g = gate();
    const blocked = queues.submit('vm-a', () => g.p);
    // vm-b must complete while vm-a is still held.
    await expect(queues.submit('vm-b', async () => 'b done')).resolves.toBe('b done');
    expect(queues.depth('vm-a')).toBe(1);
    g.open();
    await blocked;
  });

  it('keeps draining after a task fails, and reports the failure to its submitter only', async () => {
    const { queues } = newQueues();
    const first = queues.submit('zone-1', async () => {
      throw new StratoError(SysErrors.OPERATION_ERROR, 'boom');
    });
    const syncThrow = queues.submit('zone-1', (() => {
      throw new Error('sync throw');
    }) as () => Promise<void>);
    const second = queues.submit('zone-1', async () => 'ok');
    await expect(first).rejects.toMatchObject({ errorCode: { code: 'SYS.1006', details: 'boom' } });
    await expect(syncThrow).rejects.toThrow('sync throw');
    await expect(second).resolves.toBe('ok');
  });

  it('rejects at once with QUEUE_FULL when the pending count reaches maxPending', async () => {
    const { queues, metrics } = newQueues();
    const g = gate();
    const running = queues.submit('vm-1', () => g.p, { maxPending: 2 });
    const p1 = queues.submit('vm-1', async () => 1, { maxPending: 2 });
    const p2 = queues.submit('vm-1', async () => 2, { maxPending: 2 });
    const refused = queues.submit('vm-1', async () => 3, { maxPending: 2, name: 'reboot' });
    await expect(refused).rejects.toMatchObject({ errorCode: { code: SysErrors.QUEUE_FULL.code } });
    await expect(refused).rejects.toThrow(/reboot on vm-1/);
    expect(queues.depth('vm-1')).toBe(3);
    g.open();
    expect(await Promise.all([running, p1, p2])).toEqual([undefined, 1, 2]);
    expect(queues.stats().rejected).toBe(1);
    expect(await metrics.getSingleMetricAsString('strato_queue_rejected_tasks_total')).toContain('strato_queue_rejected_tasks_total{prefix="vm"} 1');
  });

  it('applies the constructor default maxPending', async () => {
    const { queues } = newQueues(1);
    const g = gate();
    const running = queues.submit('vm-1', () => g.p);
    const waiting = queues.submit('vm-1', async () => 'w');
    await expect(queues.submit('vm-1', async () => 'x')).rejects.toBeInstanceOf(StratoError);
    g.open();
    await running;
    await expect(waiting).resolves.toBe('w');
  });

  it('deletes empty queues so that many signatures leave nothing behind', async () => {
    const { queues } = newQueues();
    await Promise.all(Array.from({ length: 10_000 }, (_, i) => queues.submit(`vm-${i}`, async () => i)));
    const g = gate();
    const a = queues.submit('vm-x', () => g.p);
    const b = queues.submit('vm-x', async () => 0);
    expect(queues.stats().queues).toBe(1);
    g.open();
    await Promise.all([a, b]);
    await tick();
    expect(queues.stats()).toMatchObject({ queues: 0, pending: 0, running: 0 });
    expect(queues.depth('vm-x')).toBe(0);
  });

  it('runs a waiting task in its submitter\'s async context, not in the context of the task before it', async () => {
    const { queues } = newQueues();
    const other = new AsyncLocalStorage<string>();
    const g = gate();
    const seen: Array<[string | undefined, string | undefined]> = [];
    const record = async () => {
      seen.push([currentContext()?.apiId, other.getStore()]);
    };
    const first = runWithContext({ deadline: Date.now() + 60_000, apiId: 'api-1' }, () =>
      other.run('one', () =>
        queues.submit('vm-1', async () => {
          await g.p;
          await record();
        }),
      ),
    );
    const second = runWithContext({ deadline: Date.now() + 60_000, apiId: 'api-2' }, () => other.run('two', () => queues.submit('vm-1', record)));
    const third = queues.submit('vm-1', record); // submitted outside any context
    g.open();
    await Promise.all([first, second, third]);
    expect(seen).toEqual([
      ['api-1', 'one'],
      ['api-2', 'two'],
      [undefined, undefined],
    ]);
  });

  it('does not start a waiting task whose submitter\'s deadline has passed', async () => {
    const { queues } = newQueues();
    const g = gate();
    let ran = false;
    const holder = queues.submit('vm-1', () => g.p);
    const late = runWithContext({ deadline: Date.now() + 20 }, () =>
      queues.submit('vm-1', async () => {
        ran = true;
      }),
    );
    const next = queues.submit('vm-1', async () => 'next ran');
    await new Promise((r) => setTimeout(r, 40));
    g.open();
    await holder;
    await expect(late).rejects.toMatchObject({ errorCode: { code: SysErrors.TIMEOUT.code } });
    await expect(next).resolves.toBe('next ran');
    expect(ran).toBe(false);
  });

  it('exposes pending and running counts as gauges, totals and per prefix', async () => {
    const { queues, metrics } = newQueues();
    const g = gate();
    const tasks = [
      queues.submit('vm-1', () => g.p),
      queues.submit('vm-1', () => g.p),
      queues.submit('vm-2', () => g.p),
      queues.submit('zone-1', () => g.p),
      queues.submit('zone-1', () => g.p),
      queues.submit('zone-1', () => g.p),
    ];
    expect(queues.stats()).toMatchObject({ pending: 3, running: 3, byPrefix: { vm: { pending: 1, running: 2 }, zone: { pending: 2, running: 1 } } });
    const text = await metrics.metrics();
    expect(text).toContain('strato_queue_pending_tasks 3');
    expect(text).toContain('strato_queue_running_tasks 3');
    expect(text).toContain('strato_queue_pending_tasks_by_prefix{prefix="zone"} 2');
    expect(text).toContain('strato_queue_running_tasks_by_prefix{prefix="vm"} 2');
    g.open();
    await Promise.all(tasks);
    const after = await metrics.metrics();
    expect(after).toContain('strato_queue_pending_tasks 0');
    expect(after).toMatch(/strato_queue_wait_seconds_count\{prefix="zone"\} 3/);
  });

  it('raises a queue\'s sync level when a later task declares a higher one', async () => {
    const { queues } = newQueues();
    const g = gate();
    const a = queues.submit('host-1', () => g.p);
    const b = queues.submit('host-1', async () => 'b', { syncLevel: 2 });
    // b runs beside a because its syncLevel raised the queue's level to 2.
    await expect(b).resolves.toBe('b');
    g.open();
    await a;
  });

  it('refuses a syncLevel below 1', async () => {
    const { queues } = newQueues();
    await expect(queues.submit('vm-1', async () => 1, { syncLevel: 0 })).rejects.toMatchObject({ errorCode: { code: 'SYS.1007' } });
  });
});
