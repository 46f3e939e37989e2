import { col, type Migration } from '../../core/db/index.ts';

/**
 * ZStack's KVMHostVO: how the node logs in to a KVM host (kept for reconnects, which may redeploy)
 * and where its agent lives. Never part of an inventory: the password and key are not shown.
 */
export const kvmHostMigration: Migration = {
  id: '0320-kvm-host',
  async up(db) {
    await db.schema
      .createTable('kvm_host')
      .addColumn('uuid', col.uuid, (c) => c.primaryKey())
      // The address the agent was deployed at: a host row is deleted before its agent is removed.
      .addColumn('managementIp', 'varchar(255)', (c) => c.notNull())
      .addColumn('username', col.name, (c) => c.notNull())
      .addColumn('password', col.name)
      .addColumn('sshPrivateKey', col.text)
      .addColumn('sshPort', col.int, (c) => c.notNull())
      .addColumn('agentPort', col.int, (c) => c.notNull())
      .addColumn('agentDataDir', 'varchar(1024)', (c) => c.notNull())
      .execute();
  },
};

export interface KvmHostRow {
  uuid: string;
  managementIp: string;
  username: string;
  password: string | null;
  sshPrivateKey: string | null;
  sshPort: number;
  agentPort: number;
  agentDataDir: string;
}
