import { CompiledQuery, type Kysely } from 'kysely';
import { directReader } from './direct-read.ts';

/**
 * The rows of `table` whose `column` equals `value` (in `orderBy`'s order, ascending), read with SQL text built once per shape instead
 * of by Kysely's builder and compiler on every call (≈ 20–30 µs of CPU a read, the cost of the query
 * itself several times over). On SQLite the read runs synchronously on the node's connection when no
 * transaction holds it (`direct-read.ts`); otherwise, and on MariaDB, it goes through Kysely's executor
 * as a compiled query, so a transaction (`db` a Kysely `Transaction`) still reads its own writes.
 * Back-quoted identifiers and `?` parameters are valid on both databases.
 *
 * @example
 *   const [host] = await rowsByKey(db, 'host', ['uuid', 'status'], 'uuid', hostUuid);
 */
export async function rowsByKey(db: Kysely<any>, table: string, columns: readonly string[] | '*', column: string, value: unknown, orderBy?: string): Promise<Record<string, unknown>[]> {
  return rowsOfText(db, textOf(table, columns, column, orderBy), [value]);
}

/**
 * The rows of a read written as SQL text (back-quoted identifiers, `?` parameters), the same way: at once on
 * SQLite when no transaction holds the connection, through Kysely's executor otherwise.
 */
export async function rowsOfText(db: Kysely<any>, sql: string, params: unknown[]): Promise<Record<string, unknown>[]> {
  const direct = directReader(db)?.(sql, params);
  if (direct) return direct;
  return (await db.executeQuery<Record<string, unknown>>(CompiledQuery.raw(sql, params))).rows;
}

/** The first row `rowsByKey` finds, or undefined. */
export async function rowByKey(db: Kysely<any>, table: string, columns: readonly string[] | '*', column: string, value: unknown): Promise<Record<string, unknown> | undefined> {
  return (await rowsByKey(db, table, columns, column, value))[0];
}

/** Shapes seen so far; callers name their tables and columns in code, so this stays small. */
const texts = new Map<string, string>();

function textOf(table: string, columns: readonly string[] | '*', column: string, orderBy: string | undefined): string {
  const key = `${table}|${columns === '*' ? '*' : columns.join(',')}|${column}|${orderBy ?? ''}`;
  let s = texts.get(key);
  if (s === undefined) {
    const list = columns === '*' ? '*' : columns.map((c) => `\`${c}\``).join(', ');
    texts.set(key, (s = `select ${list} from \`${table}\` where \`${column}\` = ?${orderBy ? ` order by \`${orderBy}\`` : ''}`));
  }
  return s;
}
