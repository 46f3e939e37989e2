import { describe, expect, it } from 'vitest';
import { KeyedQueue } from './keyed-queue.ts';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('KeyedQueue', () => {
  it('runs tasks of one key one after another, other keys alongside, and goes on after a failure', async () => {
    const q = new KeyedQueue();
    const log: string[] = [];
    const task = (name: string, ms: number, fail = false) => async () => {
      log.push(`${name}>`);
      await tick(ms);
      log.push(`<${name}`);
      if (fail) throw new Error(name);
      return name;
    };
    const a1 = q.run('a', task('a1', 30, true));
    const a2 = q.run('a', task('a2', 1));
    const b1 = q.run('b', task('b1', 5));
    await expect(a1).rejects.toThrow('a1');
    expect(await a2).toBe('a2');
    expect(await b1).toBe('b1');
    expect(log.indexOf('<a1')).toBeLessThan(log.indexOf('a2>'));
    expect(log.indexOf('b1>')).toBeLessThan(log.indexOf('<a1'));
  });
});
