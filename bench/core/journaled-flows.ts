/**
 * Journaled-flow throughput: 8-step chains of trivial steps, each run journaled in the database
 * (one insert, one update per step boundary, one final update), `concurrency` flows in flight.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshTestDatabase, migrate } from '../../src/core/db/index.ts';
import { defineChain, FlowEngine, flowMigrations, FlowRegistry, type FlowStep } from '../../src/core/flow/index.ts';
import { newUuid } from '../../src/core/util/uuid.ts';

interface Ctx {
  vmUuid: string;
  allocated: string[];
}

export async function benchJournaledFlows(kind: 'sqlite' | 'mysql', flows: number, concurrency: number): Promise<{ flowsPerSecond: number; flows: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'strato-bench-'));
  const t = await freshTestDatabase(kind, dir);
  try {
    await migrate(t, flowMigrations);
    const step = (i: number): FlowStep<Ctx> => ({ name: `step-${i}`, run: (c) => { c.allocated.push(`r${i}`); }, rollback: (c) => { c.allocated.pop(); } });
    const chain = defineChain<Ctx>('bench.eight', Array.from({ length: 8 }, (_, i) => step(i)));
    const registry = new FlowRegistry();
    registry.registerChain(chain);
    const engine = new FlowEngine({ registry, db: t, nodeUuid: newUuid() });
    const runOne = () => engine.run(chain, { vmUuid: newUuid(), allocated: [] }, { resourceUuid: newUuid() });
    for (let i = 0; i < Math.min(200, flows); i++) await runOne(); // warm-up
    let next = 0;
    const started = process.hrtime.bigint();
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < flows) {
        next++;
        await runOne();
      }
    }));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return { flowsPerSecond: flows / seconds, flows };
  } finally {
    await t.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}
