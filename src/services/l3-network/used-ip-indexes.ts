import type { Migration } from '../../core/db/index.ts';

/**
 * (l3NetworkUuid, usedFor, createDate, uuid) on used_ip: the flat network's DHCP server address is
 * looked up by `l3NetworkUuid = ? AND usedFor = 'DHCP' ORDER BY createDate, uuid` on every VM create;
 * with only (l3NetworkUuid, ipInLong) that read walked every address of the L3, so a create got slower
 * with each VM on the network (bench:scale, 3,000 VMs on one L3: 0.47 ms of a create's ≈ 4 ms, and
 * growing linearly towards 100,000). With it the lookup reads the one row.
 */
export const usedIpIndexesMigration: Migration = {
  id: '0411-used-ip-used-for-index',
  async up(db) {
    await db.schema.createIndex('idx_used_ip_used_for').on('used_ip').columns(['l3NetworkUuid', 'usedFor', 'createDate', 'uuid']).execute();
  },
};
