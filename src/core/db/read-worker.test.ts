import Database from 'better-sqlite3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReadWorker, type InventoryColumns } from './read-worker.ts';

/**
 * A page of inventories read on the worker comes back as JSON text. SQLite writes that text itself
 * (json_object) where its JSON is JavaScript's; a page holding a value it would write differently is
 * converted in JavaScript instead. Either way the text must be JSON.stringify of the conversion the main
 * thread makes (query/inventory.ts): these cases compare against that conversion, written out here.
 */
const INVENTORY: InventoryColumns = [
  ['uuid', 'uuid', 'string'],
  ['name', 'name', 'string'],
  ['size', 'size', 'number'],
  ['enabled', 'enabled', 'boolean'],
  ['createDate', 'createDate', 'date'],
  ['hiddenFromPage', 'notSelected', 'string'],
];

function expected(rows: Record<string, unknown>[]): string {
  return JSON.stringify(rows.map((r) => ({
    uuid: r.uuid,
    name: r.name,
    size: typeof r.size === 'string' ? Number(r.size) : r.size,
    enabled: r.enabled === null ? null : r.enabled === true || r.enabled === 1 || r.enabled === '1',
    createDate: r.createDate === null ? null : new Date(Number(r.createDate)).toISOString(),
  })));
}

describe('ReadWorker.readInventories', () => {
  let dir: string;
  let file: string;
  let writer: Database.Database;
  let worker: ReadWorker;
  const head = (order: string) => `select "r"."uuid", "r"."name", "r"."size", "r"."enabled", "r"."createDate" from "item" as "r" where "r"."size" >= ? order by ${order} limit `;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'strato-test-read-worker-'));
    file = join(dir, 'db.sqlite');
    writer = new Database(file);
    writer.pragma('journal_mode = WAL');
    writer.exec('create table item (uuid text primary key, name, size integer, enabled integer, createDate integer, notSelected text)');
    const insert = writer.prepare('insert into item values (?, ?, ?, ?, ?, ?)');
    for (let i = 0; i < 300; i++) {
      insert.run(`u${String(i).padStart(4, '0')}`, i % 7 === 0 ? null : `name "${i}" é\n\u2028\\ 区`, i * 1_000_000_007, i % 3 === 2 ? null : i % 3, i % 11 === 0 ? null : 1_764_288_619_000 + i * 37, 'x');
    }
    worker = new ReadWorker(file);
  });
  afterAll(async () => {
    await worker?.close();
    writer?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const plain = (sql: string, params: unknown[]) => writer.prepare(sql).all(...params) as Record<string, unknown>[];

  it('gives the conversion\'s text, in the page\'s order, written by SQLite for ordinary values', async () => {
    const before = worker.jsonPages;
    const orders = ['"r"."createDate" desc, "r"."uuid" desc', '"r"."name" asc, "r"."uuid" asc', '"r"."size" desc', '"r"."enabled" asc, "r"."uuid" desc'];
    let pages = 0;
    for (const order of orders) {
      for (const [limit, offset] of [[100, 0], [100, 100], [7, 293], [50, 400]]) {
        const sql = `${head(order)}${limit} offset ${offset}`;
        const page = await worker.readInventories(sql, [3_000_000_000], INVENTORY)!;
        const rows = plain(sql, [3_000_000_000]);
        expect(page.text, sql).toBe(expected(rows));
        expect(page.count).toBe(rows.length);
        pages++;
      }
    }
    expect(worker.jsonPages - before).toBe(pages);
  });

  it('converts in JavaScript a page holding a value SQLite would write otherwise, with the same text', async () => {
    const odd: Array<[string, unknown[]]> = [
      ['a real in a number field', [1 / 3]],
      ['a real that looks whole', [100.5]],
      ['text in a number field', ['abc']],
      ['an integer past 2^53', [2n ** 60n]],
      ['a date before 1970', [null, null, -5_000]],
      ['a date past year 9999', [null, null, 253_402_300_800_000]],
      ['a real date', [null, null, 1_764_288_619_000.5]],
      ['a boolean stored as text', [null, 'yes']],
      ['a real in a string field', [null, null, null, 2.5]],
    ];
    for (const [what, [size, enabled, createDate, name]] of odd) {
      writer.prepare('delete from item where uuid = ?').run('odd');
      writer.prepare('insert into item values (?, ?, ?, ?, ?, ?)').run('odd', name ?? 'odd', size ?? 9_000_000_000_000, enabled ?? 1, createDate ?? 1_764_288_619_000, 'x');
      const sql = `${head('"r"."uuid" asc')}20 offset 0`;
      const before = worker.jsonPages;
      const rows = plain(sql, [-1e30]);
      expect(rows[0].uuid, what).toBe('odd');
      const page = await worker.readInventories(sql, [-1e30], INVENTORY)!;
      expect(worker.jsonPages - before, what).toBe(0);
      expect(page.text, what).toBe(expected(rows));
    }
    writer.prepare('delete from item where uuid = ?').run('odd');
  });

  it('refuses a blob as before (the caller reads such a page on its own thread)', async () => {
    writer.prepare('insert into item values (?, ?, ?, ?, ?, ?)').run('blob', Buffer.from('bytes'), 9_000_000_000_000, 1, 1_764_288_619_000, 'x');
    try {
      await expect(worker.readInventories(`${head('"r"."uuid" asc')}400 offset 0`, [3_000_000_000], INVENTORY)!).rejects.toThrow(/JSON cannot carry/);
    } finally {
      writer.prepare('delete from item where uuid = ?').run('blob');
    }
  });
});
