/**
 * True when a database error is a UNIQUE constraint violation (SQLite's SQLITE_CONSTRAINT_UNIQUE,
 * MariaDB's ER_DUP_ENTRY): how allocations learn that a concurrent one took the same value.
 */
export function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string; errno?: number; cause?: unknown } | undefined;
  if (!err) return false;
  if (err.code === 'SQLITE_CONSTRAINT_UNIQUE' || err.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || err.code === 'ER_DUP_ENTRY' || err.errno === 1062) return true;
  return err.cause !== undefined && err.cause !== e ? isUniqueViolation(err.cause) : false;
}
