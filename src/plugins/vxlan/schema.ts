import { col, type Migration } from '../../core/db/index.ts';

/**
 * ZStack's VtepVO: each host's VTEP address in each VXLAN pool it can reach (the host's address inside
 * the pool's CIDR for the host's cluster), found when the host connects or a VM first needs it. Every
 * host's peer list for a VNI is the other rows of the pool.
 */
export const vxlanVtepMigration: Migration = {
  id: '0330-vxlan-vtep',
  async up(db) {
    await db.schema
      .createTable('vxlan_vtep')
      .addColumn('hostUuid', col.uuid, (c) => c.notNull())
      .addColumn('poolUuid', col.uuid, (c) => c.notNull())
      .addColumn('clusterUuid', col.uuid, (c) => c.notNull())
      .addColumn('vtepIp', 'varchar(64)', (c) => c.notNull())
      .addPrimaryKeyConstraint('pk_vxlan_vtep', ['hostUuid', 'poolUuid'])
      .execute();
  },
};
