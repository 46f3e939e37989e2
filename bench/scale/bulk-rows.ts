/**
 * Query sets larger than the creates: the VM table topped up by multi-row INSERTs in transactions,
 * each row shaped like a created VM (copied from one), with a NIC (its own address and MAC, no IPAM
 * record: queries read vm_nic, IPAM reads used_ip) and a user tag `bench::group-<n % 100>` on one
 * VM in ten. The VMs made through the API get their tags here too, so tag conditions see all of them.
 */
import type { Kysely } from 'kysely';
import { newUuid } from '../../src/core/util/uuid.ts';

const GiB = 2 ** 30;
const STATES = ['Running', 'Running', 'Running', 'Stopped', 'Paused'];
const ROWS_PER_INSERT = 500;

const count = async (db: Kysely<any>, table: string) => Number((await db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

const tagRow = (vmUuid: string, n: number, now: number) => ({ uuid: newUuid(), resourceUuid: vmUuid, resourceType: 'VmInstanceVO', tag: `bench::group-${n % 100}`, type: 'User', tagPatternUuid: null, createDate: now, lastOpDate: now });

/** Tags one VM in ten of those that have none yet (the ones created through the API). */
export async function tagCreatedVms(db: Kysely<any>): Promise<void> {
  const tagged = new Set((await db.selectFrom('user_tag').select('resourceUuid').where('tag', 'like', 'bench::%').execute()).map((r) => r.resourceUuid as string));
  const vms = (await db.selectFrom('vm_instance').select('uuid').orderBy('createDate').execute()).map((r) => r.uuid as string).filter((u) => !tagged.has(u));
  const now = Date.now();
  const rows = vms.flatMap((u, n) => (n % 10 === 0 ? [tagRow(u, n / 10, now)] : []));
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) await db.insertInto('user_tag').values(rows.slice(i, i + ROWS_PER_INSERT)).execute();
}

/** Adds VMs until the table has `total` rows; the seconds it took. */
export async function topUpVms(db: Kysely<any>, total: number): Promise<{ added: number; seconds: number }> {
  const t0 = performance.now();
  const vm = await db.selectFrom('vm_instance').selectAll().where('state', '=', 'Running').executeTakeFirstOrThrow();
  const nic = await db.selectFrom('vm_nic').selectAll().where('vmInstanceUuid', '=', vm.uuid).executeTakeFirstOrThrow();
  const hostUuids = (await db.selectFrom('host').select('uuid').execute()).map((r) => r.uuid as string);
  const have = await count(db, 'vm_instance');
  const base = Number(vm.createDate);
  const BATCH = 5000;
  for (let start = have; start < total; start += BATCH) {
    const n0 = start;
    const size = Math.min(BATCH, total - start);
    const now = Date.now();
    const vms: Record<string, unknown>[] = [];
    const nics: Record<string, unknown>[] = [];
    const tags: Record<string, unknown>[] = [];
    for (let k = 0; k < size; k++) {
      const n = n0 + k;
      const uuid = newUuid();
      vms.push({ ...vm, uuid, name: `bench-vm-${n}`, hostUuid: hostUuids[n % hostUuids.length], lastHostUuid: null, rootVolumeUuid: null, state: STATES[n % STATES.length], memorySize: (1 + (n % 4)) * GiB, createDate: base + n, lastOpDate: base + n });
      // 100.64.0.0/10 and MACs from the counter: never an address or MAC the creates hand out.
      const ip = `100.${64 + ((n >> 16) & 63)}.${(n >> 8) & 255}.${n & 255}`;
      const mac = `fb:${[(n >> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255, 0].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
      nics.push({ ...nic, uuid: newUuid(), vmInstanceUuid: uuid, usedIpUuid: null, ip, mac, internalName: `vnic${n}.0`, createDate: now, lastOpDate: now });
      if (n % 10 === 0) tags.push(tagRow(uuid, n / 10, now));
    }
    await db.transaction().execute(async (tx) => {
      for (let i = 0; i < size; i += ROWS_PER_INSERT) {
        await tx.insertInto('vm_instance').values(vms.slice(i, i + ROWS_PER_INSERT)).execute();
        await tx.insertInto('vm_nic').values(nics.slice(i, i + ROWS_PER_INSERT)).execute();
      }
      for (let i = 0; i < tags.length; i += ROWS_PER_INSERT) await tx.insertInto('user_tag').values(tags.slice(i, i + ROWS_PER_INSERT)).execute();
    });
  }
  return { added: Math.max(0, total - have), seconds: (performance.now() - t0) / 1000 };
}
