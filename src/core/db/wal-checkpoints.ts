import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type SQLite from 'better-sqlite3';

/**
 * WAL checkpoints off the writer's commit path (SQLite). By default the connection that commits runs a
 * checkpoint whenever the WAL passes 1,000 pages: it copies pages into the database file and syncs it
 * inside that COMMIT, on the event loop (a burst of 10,000 creates spent 14 s in 13,193 commits, the
 * longest 125 ms). Here the writer never checkpoints (`wal_autocheckpoint = 0`); a worker thread with
 * its own connection runs PASSIVE checkpoints, which never wait for nor block the writer or readers.
 * It repeats a pass while the writer appended frames during the last one, so it catches up between
 * commits; once every frame is copied, the writer's next transaction rewinds the WAL to its start
 * (truncated to `journal_size_limit`), so the file does not grow.
 *
 * Safety net: a WAL the worker cannot keep up with (past `maxWalBytes`) turns the writer's own
 * checkpoints back on until it is small again, as does a worker that fails: at worst the old behaviour.
 * A crash loses nothing either way: a WAL not yet copied is replayed by the next connection to open.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 100');
db.pragma('wal_autocheckpoint = 0');
const pageSize = db.pragma('page_size', { simple: true });
const round = (id) => {
  try {
    let r = { busy: 0, log: 0, checkpointed: 0 };
    for (let pass = 0; pass < 16; pass++) {
      r = db.pragma('wal_checkpoint(PASSIVE)')[0];
      if (r.busy || r.log <= r.checkpointed) break;
      // falling behind: said at once, so the writer can take over before the round ends
      if (r.log * pageSize > workerData.maxWalBytes) parentPort.postMessage({ id: -1, log: r.log, checkpointed: r.checkpointed, walBytes: r.log * pageSize });
    }
    parentPort.postMessage({ id, log: r.log, checkpointed: r.checkpointed, walBytes: Math.max(0, r.log) * pageSize });
  } catch (err) {
    parentPort.postMessage({ id, error: String((err && err.message) || err) });
  }
};
const timer = setInterval(() => round(0), workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m.close) {
    clearInterval(timer);
    db.close();
    parentPort.close();
  } else round(m.id);
});
`;

export interface WalCheckpointOptions {
  /** How often the worker checkpoints. */
  intervalMs?: number;
  /** A WAL (frames not yet rewound) past this many bytes turns the writer's own checkpoints back on. */
  maxWalBytes?: number;
}

export interface WalRound {
  /** Frames in the WAL and how many of them are in the database file. */
  log: number;
  checkpointed: number;
  walBytes: number;
}

export interface WalCheckpoints {
  /** A checkpoint round now (tests); its result once the worker ran it. */
  checkpointNow(): Promise<WalRound>;
  /** Whether the writer checkpoints itself again (the worker fell behind or failed). */
  readonly writerCheckpoints: boolean;
  close(): Promise<void>;
}

const WRITER_DEFAULT_PAGES = 1000; // SQLite's default wal_autocheckpoint

/**
 * Starts background checkpoints for the database file `file` that `writer` writes.
 *
 * @example
 *   const cp = checkpointWalInBackground(raw, '/var/lib/strato/strato.db');
 *   // … on close, before the writer closes:
 *   await cp.close();
 */
export function checkpointWalInBackground(writer: SQLite.Database, file: string, opts: WalCheckpointOptions = {}): WalCheckpoints {
  const intervalMs = opts.intervalMs ?? 200;
  const maxWalBytes = opts.maxWalBytes ?? 64 * 1024 * 1024;
  // After a rewind a WAL that grew large is cut back to this (else its file keeps its peak size).
  writer.pragma(`journal_size_limit = ${16 * 1024 * 1024}`);
  writer.pragma('wal_autocheckpoint = 0');
  let writerCheckpoints = false;
  const setWriter = (on: boolean) => {
    if (on === writerCheckpoints || !writer.open) return;
    writerCheckpoints = on;
    writer.pragma(`wal_autocheckpoint = ${on ? WRITER_DEFAULT_PAGES : 0}`);
  };

  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, driver, intervalMs, maxWalBytes } });
  worker.unref();
  let closing = false;
  let next = 1;
  const pending = new Map<number, { resolve(r: WalRound): void; reject(e: Error): void }>();
  worker.on('message', (m: WalRound & { id: number; error?: string }) => {
    if (m.error === undefined) {
      if (m.walBytes > maxWalBytes) setWriter(true);
      else if (m.walBytes <= maxWalBytes / 4) setWriter(false);
    }
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (m.error !== undefined) p.reject(new Error(m.error));
    else p.resolve({ log: m.log, checkpointed: m.checkpointed, walBytes: m.walBytes });
  });
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const failed = (err: Error) => {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
    if (!closing) setWriter(true); // nobody checkpoints otherwise
  };
  worker.on('error', failed);
  void exited.then(() => failed(new Error('the WAL checkpoint worker exited')));

  return {
    checkpointNow() {
      const id = next++;
      return new Promise((resolve, reject) => {
        if (closing) return reject(new Error('the WAL checkpoint worker was closed'));
        pending.set(id, { resolve, reject });
        worker.postMessage({ id });
      });
    },
    get writerCheckpoints() {
      return writerCheckpoints;
    },
    async close() {
      if (closing) return exited;
      closing = true;
      // Held until it is done: an unreferenced worker and timer would let a process whose last work is
      // this close (a node stopping on SIGTERM) end right here, before the rest of its shutdown ran.
      worker.ref();
      worker.postMessage({ close: true });
      // its connection closes before the writer's, which is then the last one and checkpoints the rest
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
      await worker.terminate();
    },
  };
}
