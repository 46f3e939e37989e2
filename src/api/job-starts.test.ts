import { describe, expect, it } from 'vitest';
import { JobStarts } from './job-starts.ts';

const nextTurn = () => new Promise((r) => setImmediate(r));

describe('JobStarts', () => {
  it('starts at most perTurn jobs in a turn and the rest in later turns, in order', async () => {
    const starts = new JobStarts(2);
    const started: number[] = [];
    const jobs = Array.from({ length: 5 }, async (_, i) => {
      await starts.turn();
      started.push(i);
    });
    await Promise.resolve();
    await Promise.resolve();
    expect(started).toEqual([0, 1]);
    await nextTurn();
    expect(started).toEqual([0, 1, 2, 3]);
    await nextTurn();
    expect(started).toEqual([0, 1, 2, 3, 4]);
    await Promise.all(jobs);
  });

  it('starts a job at once when the turn has room and none waits', async () => {
    const starts = new JobStarts(1);
    expect(starts.turn()).toBeUndefined();
    const waiting = starts.turn();
    expect(waiting).toBeInstanceOf(Promise);
    await waiting;
    await nextTurn();
    await nextTurn();
    expect(starts.turn()).toBeUndefined();
  });
});
