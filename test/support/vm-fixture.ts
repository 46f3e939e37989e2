import type { Kysely } from 'kysely';
import { createCluster, createZone } from './integration.ts';
import type { TestClient } from './test-node.ts';

export const GiB = 1024 ** 3;
export const MiB = 1024 ** 2;

/** Everything a VM needs, in its own zone: Simulator hosts, an L3 (L2 attached), an image on an attached backup storage, an attached primary storage. */
export interface VmWorld {
  zone: string;
  cluster: string;
  hosts: string[];
  l2: string;
  l3: string;
  l3b: string;
  backupStorage: string;
  image: string;
  primaryStorage: string;
  offering: string;
  diskOffering: string;
}

let ipSeq = 0;

export async function buildVmWorld(c: TestClient, name: string, opts: { hosts?: number; cpu?: number; memory?: number; psCapacity?: number; imageSize?: number; ipStart?: string; ipEnd?: string; subnet?: string } = {}): Promise<VmWorld> {
  const subnet = opts.subnet ?? '10.20.0';
  const zone = (await createZone(c, `${name}-zone`)).uuid as string;
  const cluster = (await createCluster(c, zone, `${name}-cluster`, { hypervisorType: 'Simulator' })).uuid as string;
  const hosts: string[] = [];
  for (let i = 0; i < (opts.hosts ?? 2); i++) {
    ipSeq++;
    const h = await c.call('POST', '/hosts/simulators', { params: { name: `${name}-host-${i}`, managementIp: `10.${200 + Math.floor(ipSeq / 250)}.${ipSeq % 250}.1`, clusterUuid: cluster, cpuCapacity: opts.cpu ?? 8, memoryCapacity: opts.memory ?? 16 * GiB } });
    hosts.push(h.inventory.uuid);
  }
  const l2 = (await c.call('POST', '/l2-networks/no-vlan', { params: { name: `${name}-l2`, zoneUuid: zone, physicalInterface: 'eth0' } })).inventory.uuid as string;
  await c.call('POST', `/l2-networks/${l2}/clusters/${cluster}`, { null: {} });
  const l3 = (await c.call('POST', '/l3-networks', { params: { name: `${name}-l3`, l2NetworkUuid: l2 } })).inventory.uuid as string;
  await c.call('POST', `/l3-networks/${l3}/ip-ranges`, { params: { name: 'r', startIp: opts.ipStart ?? `${subnet}.10`, endIp: opts.ipEnd ?? `${subnet}.250`, netmask: '255.255.255.0', gateway: `${subnet}.1` } });
  const l3b = (await c.call('POST', '/l3-networks', { params: { name: `${name}-l3b`, l2NetworkUuid: l2 } })).inventory.uuid as string;
  await c.call('POST', `/l3-networks/${l3b}/ip-ranges`, { params: { name: 'rb', startIp: '172.31.0.10', endIp: '172.31.0.20', netmask: '255.255.255.0', gateway: '172.31.0.1' } });
  const backupStorage = (await c.call('POST', '/backup-storage/simulators', { params: { name: `${name}-bs`, url: `/sim/${name}-bs`, totalCapacity: 1024 * GiB } })).inventory.uuid as string;
  await c.call('POST', `/zones/${zone}/backup-storage/${backupStorage}`, { params: {} });
  const image = (await c.call('POST', '/images', { params: { name: `${name}-image`, url: `http://images.example/${name}.qcow2?size=${opts.imageSize ?? 2 * GiB}`, format: 'qcow2', backupStorageUuids: [backupStorage] } })).inventory.uuid as string;
  const cap = opts.psCapacity ?? 500 * GiB;
  const primaryStorage = (await c.call('POST', '/primary-storage/simulators', { params: { name: `${name}-ps`, url: `/sim/${name}-ps`, zoneUuid: zone, totalCapacity: cap, availableCapacity: cap } })).inventory.uuid as string;
  await c.call('POST', `/clusters/${cluster}/primary-storage/${primaryStorage}`, { params: {} });
  const offering = (await c.call('POST', '/instance-offerings', { params: { name: `${name}-io`, cpuNum: 2, memorySize: 2 * GiB } })).inventory.uuid as string;
  const diskOffering = (await c.call('POST', '/disk-offerings', { params: { name: `${name}-do`, diskSize: 5 * GiB } })).inventory.uuid as string;
  return { zone, cluster, hosts, l2, l3, l3b, backupStorage, image, primaryStorage, offering, diskOffering };
}

/** Every counter a VM touches: what a failed create must leave exactly as it found it. */
export async function accounting(db: Kysely<any>, w: VmWorld): Promise<Record<string, unknown>> {
  const hosts = await db.selectFrom('host').select(['uuid', 'availableCpuCapacity', 'availableMemoryCapacity']).where('uuid', 'in', w.hosts).orderBy('uuid').execute();
  const ps = await db.selectFrom('primary_storage').select(['availableCapacity']).where('uuid', '=', w.primaryStorage).executeTakeFirstOrThrow();
  const count = async (table: string) => Number((await db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  return {
    hosts: hosts.map((h) => [h.uuid, Number(h.availableCpuCapacity), Number(h.availableMemoryCapacity)]),
    ps: Number(ps.availableCapacity),
    usedIps: await count('used_ip'), volumes: await count('volume'), vms: await count('vm_instance'), nics: await count('vm_nic'),
    systemTags: await count('system_tag'), userTags: await count('user_tag'), psVolumes: await count('simulator_primary_storage_volume'),
  };
}
