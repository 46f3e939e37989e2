import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { freshTestDatabase, migrate, testDatabaseKinds, type TestDatabase } from '../db/index.ts';
import { newUuid } from '../util/uuid.ts';
import { FlowJournal, flowMigrations } from './journal.ts';
import { recoverUnfinishedFlows } from './recovery.ts';
import { FlowRegistry } from './registry.ts';
import { CRASH_CHAIN, crashChain, crashItemMigration, itemName } from './testing/crash-chain.ts';
import { captureLog } from './testing/recording.ts';

const childScript = fileURLToPath(new URL('./testing/crash-child.ts', import.meta.url));

/** Start the child, resolve once it reports it is hanging inside step `hangAt`. */
function startChild(args: string[]): Promise<{ kill(): Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx/esm', childScript, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('HANG\n')) {
        resolve({ kill: async () => { child.kill('SIGKILL'); await exited; } });
      }
    });
    child.on('exit', (code, signal) => reject(new Error(`child exited early (${code ?? signal}): ${out}\n${err}`)));
  });
}

describe.each(testDatabaseKinds())('a node killed in the middle of a journaled flow, on %s', (kind) => {
  let t: TestDatabase | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await t?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    t = undefined;
    dir = undefined;
  });

  it('has the flow rolled back by the restarted node: rows and files of every started step gone, journal RolledBack', async () => {
    dir = mkdtempSync(join(tmpdir(), 'strato-crash-'));
    t = await freshTestDatabase(kind, dir);
    await migrate(t, [...flowMigrations, crashItemMigration]);
    const nodeUuid = newUuid();
    const runId = newUuid();

    const child = await startChild([t.url, dir, nodeUuid, runId, '3']);
    await child.kill();

    // Before recovery: steps 1-2 completed, step 3 half-made (its row and file exist), nothing of 4-5.
    const names = async () => (await t!.db.selectFrom('crash_item').select('name').orderBy('name').execute()).map((r) => r.name);
    expect(await names()).toEqual([1, 2, 3].map((n) => itemName(runId, n)));
    expect(readdirSync(dir).filter((f) => f.startsWith(runId)).sort()).toEqual([1, 2, 3].map((n) => itemName(runId, n)));
    const journal = new FlowJournal(t.db);
    const [row] = await journal.running(nodeUuid);
    expect(row).toMatchObject({ chainName: CRASH_CHAIN, resourceUuid: runId, executed: [`${CRASH_CHAIN}/make-1`, `${CRASH_CHAIN}/make-2`] });

    // The restarted node: its own registry and chain definition, recovering its previous life's rows.
    const registry = new FlowRegistry();
    registry.registerChain(crashChain({ db: t.db, dir }));
    const reports = await recoverUnfinishedFlows({ db: t, registry, nodeUuid, log: captureLog() });

    expect(reports).toMatchObject([{ flowId: row.id, state: 'RolledBack', rolledBack: [3, 2, 1].map((n) => `${CRASH_CHAIN}/make-${n}`) }]);
    expect(await names()).toEqual([]);
    for (const n of [1, 2, 3, 4, 5]) expect(existsSync(join(dir, itemName(runId, n)))).toBe(false);
    expect((await journal.get(row.id))!.state).toBe('RolledBack');
    expect(await journal.running()).toEqual([]);
  });
});
