import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { col, type Migration } from '../../db/index.ts';
import { defineChain, type FlowChain } from '../chain.ts';
import type { FlowStep } from '../step.ts';

/**
 * The chain of the crash test, shared by the child process that dies running it and the parent that
 * recovers it. Each step makes a real row and a real file, named from ctx so its rollback can find them
 * even when the step never completed.
 */
export interface CrashCtx {
  /** Chosen by the caller before the chain starts, so every step's effects have known names. */
  runId: string;
  made: number[];
}

export const CRASH_CHAIN = 'test.crash';
export const CRASH_STEPS = 5;

export const crashItemMigration: Migration = {
  id: '9001-test-crash-item',
  async up(db) {
    await db.schema.createTable('crash_item').addColumn('name', col.name, (c) => c.primaryKey()).addColumn('runId', col.uuid, (c) => c.notNull()).execute();
  },
};

export function itemName(runId: string, step: number): string {
  return `${runId}-step${step}`;
}

/** `during(n)` is called after step n made its effects but before it completes: the child hangs there. */
export function crashChain(deps: { db: Kysely<any>; dir: string; during?: (step: number) => Promise<void> }): FlowChain<CrashCtx> {
  const step = (n: number): FlowStep<CrashCtx> => ({
    name: `make-${n}`,
    async run(ctx) {
      const name = itemName(ctx.runId, n);
      await deps.db.insertInto('crash_item').values({ name, runId: ctx.runId }).execute();
      await writeFile(join(deps.dir, name), `made by step ${n}\n`);
      await deps.during?.(n);
      ctx.made.push(n);
    },
    // Idempotent and tolerant of a half-run step: delete whatever exists under the known names.
    async rollback(ctx) {
      const name = itemName(ctx.runId, n);
      await deps.db.deleteFrom('crash_item').where('name', '=', name).execute();
      if (existsSync(join(deps.dir, name))) await rm(join(deps.dir, name));
    },
  });
  return defineChain<CrashCtx>(CRASH_CHAIN, Array.from({ length: CRASH_STEPS }, (_, i) => step(i + 1)));
}
