import { describe, it, expect } from 'vitest';
import { DeadlineWheel, type Expirable } from './deadline-wheel.ts';

class Item implements Expirable {
  wheelBucket = 0;
  expiredAt: number | undefined;
  constructor(readonly name: string, readonly log: string[]) {}
  expire(): void {
    this.expiredAt = Date.now();
    this.log.push(this.name);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('DeadlineWheel', () => {
  it('expires items in deadline order, never before their deadline, and not once deleted', async () => {
    const wheel = new DeadlineWheel<Item>(5);
    const log: string[] = [];
    const t0 = Date.now();
    const items = [['c', 90], ['a', 20], ['d', 120], ['b', 50], ['gone', 30]] as const;
    const byName = new Map(items.map(([n, ms]) => {
      const it = new Item(n, log);
      wheel.add(it, t0 + ms);
      return [n, { it, deadline: t0 + ms }];
    }));
    wheel.delete(byName.get('gone')!.it);
    while (log.length < 4) await sleep(10);
    expect(log).toEqual(['a', 'b', 'c', 'd']);
    for (const { it, deadline } of byName.values()) if (it.name !== 'gone') expect(it.expiredAt!).toBeGreaterThanOrEqual(deadline);
    expect(wheel.size).toBe(0);
  });

  it('re-arms for an earlier deadline added after a later one, and ignores infinite deadlines', async () => {
    const wheel = new DeadlineWheel<Item>(5);
    const log: string[] = [];
    wheel.add(new Item('late', log), Date.now() + 10_000);
    wheel.add(new Item('never', log), Number.POSITIVE_INFINITY);
    wheel.add(new Item('soon', log), Date.now() + 10);
    while (log.length < 1) await sleep(5);
    expect(log).toEqual(['soon']);
    expect(wheel.drain().map((i) => i.name)).toEqual(['late']);
  });
});
