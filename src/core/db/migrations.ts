import { Kysely, Migrator, type Migration as KyselyMigration, type MigrationProvider } from 'kysely';
import type { Database, DbKind } from './database.ts';

/**
 * A versioned schema change. Ids sort lexicographically into the order they run, so every
 * service prefixes its own (`0001-core-…`, `0100-zone-…`); a migration once released never changes.
 */
export interface Migration {
  id: string;
  up(db: Kysely<any>, kind: DbKind): Promise<void>;
}

/** Runs every migration not yet applied, in id order; Kysely's migration table records what ran. */
export async function migrate(database: Database, migrations: readonly Migration[]): Promise<string[]> {
  const seen = new Set<string>();
  for (const m of migrations) {
    if (seen.has(m.id)) throw new Error(`duplicate migration id: ${m.id}`);
    seen.add(m.id);
  }
  const provider: MigrationProvider = {
    async getMigrations() {
      const out: Record<string, KyselyMigration> = {};
      for (const m of migrations) out[m.id] = { up: (db) => m.up(db, database.kind) };
      return out;
    },
  };
  const migrator = new Migrator({ db: database.db, provider, migrationTableName: 'schema_migration', migrationLockTableName: 'schema_migration_lock' });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
