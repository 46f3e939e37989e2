import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * The thread behind an `OffloadedReader` (direct-read.ts): a worker with a read-only better-sqlite3
 * connection to the node's database file, answering `{id, sql, params}` with the rows in array form
 * and their column names (cheaper to pass between threads than objects). Plain CommonJS evaluated in
 * the worker, so it needs no TypeScript loader. Started on the first read, stopped by `close()`.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { readonly: true, fileMustExist: true });
db.pragma('busy_timeout = 5000');
const statements = new Map();
const isoDate = (v) => new Date(Number(v)).toISOString();
// A page of inventories written as JSON by SQLite itself (json_object per row): no row arrays or objects
// are built here, which halves the worker's time for a page of 100 VMs. The text must be what the
// conversion below gives, so values whose JSON SQLite writes differently from JavaScript (reals, texts in
// number fields, integers past 2^53, dates outside years 1970-9999, booleans other than integers) mark
// their row, and a page with a marked row is converted below instead. The page query is wrapped as a
// subquery; it has LIMIT and OFFSET, which SQLite never drops or reorders (it runs such a subquery as a
// co-routine, or moves its ORDER BY out when it flattens it), so the rows come in the page's order.
const jsonStatements = new Map();
const ident = (name) => '"' + name.replace(/"/g, '""') + '"';
const literal = (text) => "'" + text.replace(/'/g, "''") + "'";
const BIG = 9007199254740991;
const jsonStatementOf = (sql, columns, inventory) => {
  const key = JSON.stringify([sql, inventory]);
  let stmt = jsonStatements.get(key);
  if (stmt !== undefined) return stmt;
  const parts = [];
  const marks = [];
  for (const [name, column, type] of inventory) {
    const i = columns.lastIndexOf(column);
    if (i < 0) continue;
    // A name the page selects twice cannot be referred to from outside: convert such pages here.
    if (columns.indexOf(column) !== i) return null;
    const c = ident(column);
    if (type === 'date') {
      parts.push(literal(name), "strftime('%Y-%m-%dT%H:%M:%S', " + c + " / 1000, 'unixepoch') || '.' || substr('00' || (" + c + " % 1000), -3) || 'Z'");
      marks.push('(' + c + " IS NOT NULL AND (typeof(" + c + ") <> 'integer' OR " + c + ' < 0 OR ' + c + ' > 253402300799999))');
    } else if (type === 'boolean') {
      parts.push(literal(name), 'CASE WHEN ' + c + ' IS NULL THEN NULL WHEN ' + c + " = 1 THEN json('true') ELSE json('false') END");
      marks.push('(' + c + " IS NOT NULL AND typeof(" + c + ") <> 'integer')");
    } else {
      parts.push(literal(name), c);
      marks.push('typeof(' + c + ") IN ('real'" + (type === 'number' ? ", 'text'" : '') + ')', '(typeof(' + c + ") = 'integer' AND (" + c + ' > ' + BIG + ' OR ' + c + ' < -' + BIG + '))');
    }
  }
  stmt = db.prepare('SELECT json_object(' + parts.join(', ') + '), ' + (marks.length ? marks.join(' OR ') : '0') + ' FROM (' + sql + ')');
  stmt.raw(true);
  jsonStatements.set(key, stmt);
  if (jsonStatements.size > 200) jsonStatements.delete(jsonStatements.keys().next().value);
  return stmt;
};
// The page as JSON text, or undefined where a value needs the conversion below (or SQLite refused: a blob).
const jsonPage = (sql, columns, params, inventory) => {
  let rows;
  try {
    const stmt = jsonStatementOf(sql, columns, inventory);
    if (stmt === null) return undefined;
    rows = stmt.all(params);
  } catch {
    return undefined;
  }
  const out = new Array(rows.length);
  for (let r = 0; r < rows.length; r++) {
    if (rows[r][1]) return undefined;
    out[r] = rows[r][0];
  }
  return { text: '[' + out.join(',') + ']', count: out.length };
};
// An inventory's conversion of one row (query/inventory.ts mapperOf), for reads that ask for JSON text of inventories.
const convertRow = (values, fields, index) => {
  const out = {};
  for (let f = 0; f < fields.length; f++) {
    const i = index[f];
    if (i < 0) continue;
    const v = values[i];
    const type = fields[f][2];
    out[fields[f][0]] = type === 'date' ? (v === null ? null : isoDate(v))
      : type === 'boolean' ? (v === null ? null : v === true || v === 1 || v === '1')
        : type === 'number' ? (typeof v === 'string' ? Number(v) : v)
          : v;
  }
  return out;
};
parentPort.on('message', ({ id, sql, params, inventory }) => {
  try {
    let e = statements.get(sql);
    if (e === undefined) {
      const stmt = db.prepare(sql);
      stmt.raw(true);
      e = { stmt, columns: stmt.columns().map((c) => c.name) };
      statements.set(sql, e);
      if (statements.size > 200) statements.delete(statements.keys().next().value);
    }
    if (inventory) {
      const page = jsonPage(sql, e.columns, params, inventory);
      if (page !== undefined) {
        parentPort.postMessage({ id, text: page.text, count: page.count, byJson: true });
        return;
      }
    }
    const rows = e.stmt.all(params);
    // SQLite re-prepares a statement whose tables changed (a migration): then read the names again.
    if (rows.length && rows[0].length !== e.columns.length) e.columns = e.stmt.columns().map((c) => c.name);
    // Rows of text, numbers and nulls travel as JSON text: JSON.parse builds the row objects on the
    // main thread faster than it can take structured-cloned arrays apart and build them. Anything else
    // (blobs, big integers) travels as arrays.
    const columns = e.columns;
    if (inventory) {
      // [name, column, type] of each field: the JSON text of the inventories, or an error (read again on the main thread).
      const index = inventory.map((f) => columns.lastIndexOf(f[1]));
      const out = new Array(rows.length);
      for (let r = 0; r < rows.length; r++) {
        const values = rows[r];
        for (let c = 0; c < values.length; c++) {
          const v = values[c];
          if (v !== null && typeof v !== 'string' && !(typeof v === 'number' && Number.isFinite(v))) throw new Error('a value JSON cannot carry');
        }
        out[r] = convertRow(values, inventory, index);
      }
      parentPort.postMessage({ id, text: JSON.stringify(out), count: out.length });
      return;
    }
    let plain = true;
    const objects = new Array(rows.length);
    for (let r = 0; r < rows.length && plain; r++) {
      const values = rows[r];
      const row = {};
      for (let c = 0; c < columns.length; c++) {
        const v = values[c];
        if (v !== null && typeof v !== 'string' && !(typeof v === 'number' && Number.isFinite(v))) { plain = false; break; }
        row[columns[c]] = v;
      }
      objects[r] = row;
    }
    if (plain) parentPort.postMessage({ id, json: JSON.stringify(objects) });
    else parentPort.postMessage({ id, columns, rows });
  } catch (err) {
    parentPort.postMessage({ id, error: String((err && err.message) || err) });
  }
});
`;

interface Pending {
  resolve(rows: any): void;
  reject(err: Error): void;
}

/** An inventory's visible fields as a worker converts rows to them: `[name, column, type]` in declaration order. */
export type InventoryColumns = ReadonlyArray<readonly [name: string, column: string, type: string]>;

/** A page of inventories as JSON text (an array), and how many it holds. */
export interface InventoriesText {
  text: string;
  count: number;
}

export class ReadWorker {
  /** Reads sent and not yet answered: the pool sends to the thread with fewest. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Whether the thread was started (and has not failed). */
  get started(): boolean {
    return this.#worker !== undefined && !this.#failed;
  }

  get failed(): boolean {
    return this.#failed;
  }

  /** Pages of inventories SQLite wrote as JSON itself (the rest were converted on the worker). */
  get jsonPages(): number {
    return this.#jsonPages;
  }

  #worker: Worker | undefined;
  #failed = false;
  #jsonPages = 0;
  #next = 1;
  readonly #pending = new Map<number, Pending>();

  constructor(private readonly file: string) {}

  /** Rows of a read-only statement, read on the worker's connection; undefined once the worker failed. */
  read(sql: string, params: readonly unknown[]): Promise<Record<string, unknown>[]> | undefined {
    return this.#send(sql, params, undefined);
  }

  /**
   * The rows converted to inventories on the worker, as JSON text: the same text as JSON.stringify of
   * `rowToInventory` of each row (query/inventory.ts), without building the rows or the inventories here.
   */
  readInventories(sql: string, params: readonly unknown[], inventory: InventoryColumns): Promise<InventoriesText> | undefined {
    return this.#send(sql, params, inventory);
  }

  #send<T>(sql: string, params: readonly unknown[], inventory: InventoryColumns | undefined): Promise<T> | undefined {
    if (this.#failed) return undefined;
    const worker = this.#worker ?? this.#start();
    const id = this.#next++;
    const bound = params.map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : p));
    return new Promise((resolve, reject) => {
      if (this.#pending.size === 0) worker.ref();
      this.#pending.set(id, { resolve, reject });
      worker.postMessage(inventory ? { id, sql, params: bound, inventory } : { id, sql, params: bound });
    });
  }

  async close(): Promise<void> {
    this.#failed = true;
    const worker = this.#worker;
    this.#worker = undefined;
    this.#failAll(new Error('the read worker was closed'));
    // referenced while it ends, so that a process whose last work is this close does not exit before it returns
    worker?.ref();
    if (worker) await worker.terminate();
  }

  #start(): Worker {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file: this.file, driver } });
    worker.unref();
    worker.on('message', (m: { id: number; json?: string; text?: string; count?: number; byJson?: boolean; columns?: string[]; rows?: unknown[][]; error?: string }) => {
      const p = this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id);
      if (this.#pending.size === 0) worker.unref();
      if (m.error !== undefined) return p.reject(new Error(m.error));
      if (m.text !== undefined) {
        if (m.byJson) this.#jsonPages++;
        return p.resolve({ text: m.text, count: m.count });
      }
      if (m.json !== undefined) return p.resolve(JSON.parse(m.json) as Record<string, unknown>[]);
      const columns = m.columns!;
      const rows = m.rows!.map((values) => {
        const row: Record<string, unknown> = {};
        for (let c = 0; c < columns.length; c++) {
          const v = values[c];
          // A blob arrives as a Uint8Array: give it back as the Buffer better-sqlite3 reads on this thread.
          row[columns[c]] = v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v;
        }
        return row;
      });
      p.resolve(rows);
    });
    const fail = (err: Error) => {
      this.#failed = true;
      this.#failAll(err);
    };
    worker.on('error', fail);
    worker.on('exit', () => fail(new Error('the read worker exited')));
    this.#worker = worker;
    return worker;
  }

  #failAll(err: Error): void {
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }
}

/**
 * A few `ReadWorker`s over one file, so that long reads (a tag page sorting ~1,000 VMs at 1,000,000
 * rows, a count over 40,000 index entries) run side by side instead of queueing on one thread. A read
 * goes to the least busy started thread; another thread starts only when every started one is busy,
 * so a node whose reads are short keeps one.
 */
export class ReadWorkerPool {
  readonly #workers: ReadWorker[];

  constructor(file: string, size: number) {
    this.#workers = Array.from({ length: Math.max(1, size) }, () => new ReadWorker(file));
  }

  read(sql: string, params: readonly unknown[]): Promise<Record<string, unknown>[]> | undefined {
    return this.#pick()?.read(sql, params);
  }

  readInventories(sql: string, params: readonly unknown[], inventory: InventoryColumns): Promise<InventoriesText> | undefined {
    return this.#pick()?.readInventories(sql, params, inventory);
  }

  #pick(): ReadWorker | undefined {
    let best: ReadWorker | undefined;
    let idle: ReadWorker | undefined;
    for (const w of this.#workers) {
      if (w.failed) continue;
      if (!w.started) idle ??= w;
      else if (best === undefined || w.pending < best.pending) best = w;
    }
    return best === undefined || (best.pending > 0 && idle !== undefined) ? idle : best;
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.close()));
  }
}

/** Read threads per SQLite file: `STRATO_DB_READ_WORKERS`, default 2 (a long read per core). */
export function readWorkerCount(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.STRATO_DB_READ_WORKERS ?? 2);
  return Number.isInteger(n) && n >= 1 ? Math.min(n, 16) : 2;
}
