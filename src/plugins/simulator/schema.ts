import { col, type Migration } from '../../core/db/index.ts';

/** ZStack's SimulatorHostVO: the capacity a simulated host reports, kept so it survives a node restart. */
export const simulatorHostMigration: Migration = {
  id: '0310-simulator-host',
  async up(db) {
    await db.schema
      .createTable('simulator_host')
      .addColumn('uuid', col.uuid, (c) => c.primaryKey())
      .addColumn('cpuCapacity', 'bigint', (c) => c.notNull())
      .addColumn('memoryCapacity', 'bigint', (c) => c.notNull())
      .execute();
  },
};
