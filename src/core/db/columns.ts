import type { ColumnDefinitionBuilder, CreateTableBuilder } from 'kysely';

/**
 * Column helpers that mean the same on SQLite and MariaDB. Conventions:
 * - ids are 32-hex `varchar(32)`; names `varchar(255)`; long text `text`;
 * - dates are epoch milliseconds in `bigint` (indexable, comparable, zone-free), rendered as ISO 8601 in inventories;
 * - booleans are `boolean` (0/1 on both), converted by the inventory's declared field type.
 */
export const col = {
  uuid: 'varchar(32)',
  name: 'varchar(255)',
  text: 'text',
  date: 'bigint',
  int: 'integer',
  bigint: 'bigint',
  bool: 'boolean',
  json: 'text',
} as const;

/** Adds the `createDate`/`lastOpDate` pair every ZStack resource carries. */
export function withDates<T extends string>(t: CreateTableBuilder<T, any>): CreateTableBuilder<T, any> {
  return t
    .addColumn('createDate', 'bigint', (c: ColumnDefinitionBuilder) => c.notNull())
    .addColumn('lastOpDate', 'bigint', (c: ColumnDefinitionBuilder) => c.notNull());
}
