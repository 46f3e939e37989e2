import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openDatabase } from './database.ts';

/** A database file, and a second connection to it that sees only what was committed. */
async function withFile(run: (d: Awaited<ReturnType<typeof openDatabase>>, committedIds: () => number[]) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'strato-sqlite-driver-'));
  const d = await openDatabase(`sqlite:${join(dir, 'g.db')}`);
  const other = new SQLite(join(dir, 'g.db'));
  try {
    await d.db.schema.createTable('t').addColumn('id', 'integer', (c) => c.primaryKey()).execute();
    await run(d, () => (other.prepare('select id from t order by id').all() as Array<{ id: number }>).map((r) => r.id));
  } finally {
    other.close();
    await d.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

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

  it('commits the writes of one event-loop turn together, and settles each only once they are committed', async () => {
    await withFile(async (d, committedIds) => {
      const seenAtSettle: number[][] = [];
      const writes = [1, 2, 3].map((id) => d.db.insertInto('t').values({ id }).execute().then(() => seenAtSettle.push(committedIds())));
      // The statements ran (this connection sees them) but nothing is committed yet.
      expect((await d.db.selectFrom('t').select('id').execute()).map((r) => r.id)).toEqual([1, 2, 3]);
      expect(committedIds()).toEqual([]);
      await Promise.all(writes);
      expect(seenAtSettle).toEqual([[1, 2, 3], [1, 2, 3], [1, 2, 3]]);
    });
  });

  it('fails only the write that broke a constraint; the rest of its batch commits', async () => {
    await withFile(async (d, committedIds) => {
      await d.db.insertInto('t').values({ id: 1 }).execute();
      const results = await Promise.allSettled([2, 1, 3].map((id) => d.db.insertInto('t').values({ id }).execute()));
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect(committedIds()).toEqual([1, 2, 3]);
    });
  });

  it('commits the open batch before an explicit transaction begins, so a rollback takes back only its own writes', async () => {
    await withFile(async (d, committedIds) => {
      const batched = d.db.insertInto('t').values({ id: 1 }).execute();
      await d.db.transaction().execute(async (trx) => {
        expect(committedIds()).toEqual([1]);
        await trx.insertInto('t').values({ id: 2 }).execute();
        throw new Error('roll back');
      }).catch(() => undefined);
      await batched;
      expect(committedIds()).toEqual([1]);
    });
  });
});
