import type { Migration } from '../../core/db/index.ts';

/**
 * Indexes for the queries clients run on VMs (UI lists, `QueryVmInstance`) on top of those 0800 made
 * (hostUuid, clusterUuid, zoneUuid, (createDate, uuid), vm_nic vmInstanceUuid and l3NetworkUuid):
 * - (state, createDate, uuid, memorySize): `q=state=Running&sort=-createDate` (the default order) walks
 *   the index in order and stops at start+limit instead of sorting every Running VM; with memorySize in
 *   it, a memory filter is checked in the index and `replyWithCount`'s COUNT(*) never reads the table.
 *   Measured on SQLite at 100,000 VMs (state=Running & memorySize>=2G, 45,000 match): page 0.6 ms, count
 *   4 ms; with (state, createDate, uuid) alone the count looked every row up, 50 ms. A separate
 *   (state, memorySize) index is NOT added: without ANALYZE SQLite then picks it for the page and sorts
 *   45,000 rows (55 ms).
 * - name: lookups by name (`q=name=web1`, `name~=web%` prefix);
 * - vm_nic ip: which VM has this address (`q=vmNics.ip=10.0.0.5`).
 */
export const vmQueryIndexesMigration: Migration = {
  id: '0801-vm-query-indexes',
  async up(db) {
    await db.schema.createIndex('idx_vm_state_create').on('vm_instance').columns(['state', 'createDate', 'uuid', 'memorySize']).execute();
    await db.schema.createIndex('idx_vm_name').on('vm_instance').column('name').execute();
    await db.schema.createIndex('idx_vm_nic_ip').on('vm_nic').column('ip').execute();
  },
};
