/** Same-run baselines: what the framework's figures are divided by. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';

/** Awaited calls of a trivial async function: the floor any in-process call mechanism adds to. */
export async function benchPlainCalls(calls: number): Promise<{ callsPerSecond: number }> {
  const handler = async (x: number) => x + 1;
  let acc = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) acc = await handler(acc);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (acc !== calls) throw new Error('baseline miscounted');
  return { callsPerSecond: calls / seconds };
}

/** Single-row autocommit inserts through better-sqlite3 in WAL mode, synchronous=NORMAL (the node's settings). */
export function benchRawSqliteInserts(rows: number): { insertsPerSecond: number } {
  const dir = mkdtempSync(join(tmpdir(), 'strato-bench-sqlite-'));
  const db = new SQLite(join(dir, 'raw.db'));
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec('create table t (id varchar(32) primary key, state varchar(16), ctx text, createDate bigint)');
    const insert = db.prepare('insert into t values (?, ?, ?, ?)');
    const started = process.hrtime.bigint();
    for (let i = 0; i < rows; i++) insert.run(`${i}`.padStart(32, '0'), 'Running', '{"vmUuid":"x","allocated":[]}', Date.now());
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return { insertsPerSecond: rows / seconds };
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
