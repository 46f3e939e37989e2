/**
 * Journaled-flow throughput: 8-step chains of trivial steps, journaled in SQLite (file, WAL) or MariaDB.
 * Usage: node --import tsx/esm src/core/flow/testing/bench-journal.ts [sqlite|mysql] [flows] [concurrency]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshTestDatabase, migrate } from '../../db/index.ts';
import { newUuid } from '../../util/uuid.ts';
import { defineChain } from '../chain.ts';
import { FlowEngine } from '../engine.ts';
import { flowMigrations } from '../journal.ts';
import { FlowRegistry } from '../registry.ts';
import type { FlowStep } from '../step.ts';

const kind = (process.argv[2] ?? 'sqlite') as 'sqlite' | 'mysql';
const flows = Number(process.argv[3] ?? 20_000);
const concurrency = Number(process.argv[4] ?? 16);

const dir = mkdtempSync(join(tmpdir(), 'strato-bench-'));
const t = await freshTestDatabase(kind, dir);
await migrate(t, flowMigrations);
interface Ctx { vmUuid: string; allocated: string[] }
const step = (i: number): FlowStep<Ctx> => ({ name: `step-${i}`, run: (c) => { c.allocated.push(`r${i}`); }, rollback: (c) => { c.allocated.pop(); } });
const chain = defineChain<Ctx>('bench.eight', Array.from({ length: 8 }, (_, i) => step(i)));
const registry = new FlowRegistry();
registry.registerChain(chain);
const groupCommit = process.env.GROUP_COMMIT === undefined ? undefined : process.env.GROUP_COMMIT === '1';
const engine = new FlowEngine({ registry, db: t, nodeUuid: newUuid(), groupCommit });

let next = 0;
const started = performance.now();
await Promise.all(Array.from({ length: concurrency }, async () => {
  while (next < flows) {
    next++;
    const vmUuid = newUuid();
    await engine.run(chain, { vmUuid, allocated: [] }, { resourceUuid: vmUuid });
  }
}));
const secs = (performance.now() - started) / 1000;
console.log(`${kind}: ${flows} journaled 8-step flows in ${secs.toFixed(2)} s = ${Math.round(flows / secs)} flows/s (concurrency ${concurrency})`);
await t.drop();
rmSync(dir, { recursive: true, force: true });
