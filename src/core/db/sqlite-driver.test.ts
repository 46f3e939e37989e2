import { describe, expect, it } from 'vitest';
import { openDatabase } from './database.ts';

describe('the shared SQLite connection', () => {
  it('runs a query issued during another caller\'s transaction after it, outside it: a rollback takes back only the transaction\'s writes', async () => {
    const d = await openDatabase('sqlite::memory:');
    try {
      await d.db.schema.createTable('t').addColumn('id', 'integer').execute();
      const order: string[] = [];
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const tx = d.db.transaction().execute(async (trx) => {
        await trx.insertInto('t').values({ id: 1 }).execute();
        order.push('tx wrote');
        await gate;
        throw new Error('roll back');
      }).catch(() => order.push('tx rolled back'));
      while (!order.includes('tx wrote')) await new Promise((r) => setTimeout(r, 1));
      const outside = d.db.insertInto('t').values({ id: 2 }).execute().then(() => order.push('outside wrote'));
      await new Promise((r) => setTimeout(r, 20));
      expect(order).toEqual(['tx wrote']); // still waiting for the transaction
      release();
      await Promise.all([tx, outside]);
      expect(order).toEqual(['tx wrote', 'tx rolled back', 'outside wrote']);
      expect((await d.db.selectFrom('t').select('id').execute()).map((r) => r.id)).toEqual([2]);
    } finally {
      await d.close();
    }
  });

  it('runs transactions one after another, each seeing the other\'s committed rows only', async () => {
    const d = await openDatabase('sqlite::memory:');
    try {
      await d.db.schema.createTable('t').addColumn('id', 'integer').execute();
      const seen: number[][] = [];
      await Promise.all([1, 2, 3].map((id) => d.db.transaction().execute(async (trx) => {
        const before = (await trx.selectFrom('t').select('id').execute()).map((r) => r.id as number);
        await new Promise((r) => setTimeout(r, 5));
        await trx.insertInto('t').values({ id }).execute();
        seen.push(before);
      })));
      expect(seen).toEqual([[], [1], [1, 2]]);
    } finally {
      await d.close();
    }
  });
});
