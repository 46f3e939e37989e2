import { CompiledQuery, type Kysely } from 'kysely';

/**
 * The plain row writes every VM create makes (the VM, its root volume, its NIC, their updates), as SQL
 * text built once per shape instead of by Kysely's builder and compiler per call (about 15 µs of CPU a
 * statement, some ten per create). Back-quoted identifiers and `?` parameters are valid on SQLite and
 * MariaDB alike. Columns whose value is `undefined` are left out, as Kysely does.
 */
const texts = new Map<string, string>();

const text = (key: string, build: () => string): string => {
  let s = texts.get(key);
  if (s === undefined) texts.set(key, (s = build()));
  return s;
};

const defined = (row: Record<string, unknown>) => Object.keys(row).filter((k) => row[k] !== undefined);

/** INSERT INTO `table` (…) VALUES (…). */
export async function insertRow(db: Kysely<any>, table: string, row: Record<string, unknown>): Promise<void> {
  const cols = defined(row);
  const sql = text(`i|${table}|${cols.join(',')}`, () => `insert into \`${table}\` (${cols.map((c) => `\`${c}\``).join(', ')}) values (${cols.map(() => '?').join(', ')})`);
  await db.executeQuery(CompiledQuery.raw(sql, cols.map((c) => row[c])));
}

/** UPDATE `table` SET … WHERE `uuid` = ?. */
export async function updateByUuid(db: Kysely<any>, table: string, set: Record<string, unknown>, uuid: string): Promise<void> {
  const cols = defined(set);
  const sql = text(`u|${table}|${cols.join(',')}`, () => `update \`${table}\` set ${cols.map((c) => `\`${c}\` = ?`).join(', ')} where \`uuid\` = ?`);
  await db.executeQuery(CompiledQuery.raw(sql, [...cols.map((c) => set[c]), uuid]));
}
