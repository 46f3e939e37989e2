import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { apiCatalog } from '../api/catalog.ts';
import { callApi } from './client.ts';

/** What `strato serve --all-in-one` needs to make this machine its own KVM host. */
export interface AllInOneOptions {
  /** This machine's address: the KVM host's and the image store's management IP. */
  hostIp: string;
  /** The interface VMs' NoVlan bridge goes on (its address moves to the bridge). */
  physicalInterface: string;
  sshUser: string;
  sshPassword?: string;
  sshKeyFile?: string;
  /** Where storage lives: `<dataDir>/local-ps`, `<dataDir>/image-store`, agents under `<dataDir>/agents`. */
  dataDir: string;
  /** The first VM's image (http(s):// or file://); without it no image and no VM are made. */
  imageUrl?: string;
  log: (line: string) => void;
}

/**
 * The quick start (ZStack's all-in-one): through the API, as a user would, one zone with this machine
 * as a KVM host (its agent deployed by Ansible over SSH to itself), an image store on it, local
 * storage, a NoVlan network, and a first VM from `imageUrl`. Does nothing if the zone already exists.
 */
export async function buildAllInOne(baseUrl: string, o: AllInOneOptions): Promise<{ vmUuid?: string; hostUuid: string } | undefined> {
  const session = String((await call(baseUrl, undefined, 'LogInByAccount', { accountName: 'admin', password: createHash('sha512').update('password').digest('hex') })).inventory.uuid);
  const api = (name: string, params: Record<string, unknown>) => call(baseUrl, session, name, params);
  if ((await api('QueryZone', { q: ['name=all-in-one'] })).inventories.length) {
    o.log('  All-in-one: already built in this database (zone all-in-one)');
    return undefined;
  }
  const login = { username: o.sshUser, password: o.sshPassword, sshPrivateKey: o.sshKeyFile ? readFileSync(o.sshKeyFile, 'utf8') : undefined };
  const agents = join(o.dataDir, 'agents');
  for (const category of ['kvm', 'imageStore']) await api('UpdateGlobalConfig', { category, name: 'agent.rootDir', value: agents });
  const zone = (await api('CreateZone', { name: 'all-in-one' })).inventory.uuid;
  const cluster = (await api('CreateCluster', { name: 'all-in-one', zoneUuid: zone, hypervisorType: 'KVM' })).inventory.uuid;
  const ps = (await api('AddLocalPrimaryStorage', { name: 'local', zoneUuid: zone, url: join(o.dataDir, 'local-ps') })).inventory.uuid;
  await api('AttachPrimaryStorageToCluster', { clusterUuid: cluster, primaryStorageUuid: ps });
  const l2 = (await api('CreateL2NoVlanNetwork', { name: 'flat', zoneUuid: zone, physicalInterface: o.physicalInterface })).inventory.uuid;
  await api('AttachL2NetworkToCluster', { clusterUuid: cluster, l2NetworkUuid: l2 });
  const l3 = (await api('CreateL3Network', { name: 'flat', l2NetworkUuid: l2, category: 'Private' })).inventory.uuid;
  await api('AddIpRange', { l3NetworkUuid: l3, name: 'flat', startIp: '192.168.200.10', endIp: '192.168.200.200', netmask: '255.255.255.0', gateway: '192.168.200.1' });
  const offering = (await api('CreateInstanceOffering', { name: 'small', cpuNum: 1, memorySize: 256 * 1024 ** 2 })).inventory.uuid;
  o.log(`  All-in-one: deploying the agents on ${o.hostIp} by Ansible (a KVM host and an image store)…`);
  const host = (await api('AddKVMHost', { name: 'this-machine', clusterUuid: cluster, managementIp: o.hostIp, ...login })).inventory.uuid;
  const bs = (await api('AddImageStoreBackupStorage', { name: 'images', url: join(o.dataDir, 'image-store'), hostname: o.hostIp, ...login })).inventory.uuid;
  await api('AttachBackupStorageToZone', { zoneUuid: zone, backupStorageUuid: bs });
  o.log(`  All-in-one: KVM host ${host} Connected, image store ${bs}`);
  if (!o.imageUrl) return { hostUuid: host };
  const image = (await api('AddImage', { name: 'first-image', url: o.imageUrl, format: 'qcow2', mediaType: 'RootVolumeTemplate', platform: 'Linux', backupStorageUuids: [bs] })).inventory.uuid;
  const vm = (await api('CreateVmInstance', { name: 'first-vm', instanceOfferingUuid: offering, imageUuid: image, l3NetworkUuids: [l3] })).inventory.uuid;
  o.log(`  All-in-one: VM first-vm ${vm} is Running on this machine`);
  return { vmUuid: vm, hostUuid: host };
}

async function call(baseUrl: string, session: string | undefined, name: string, params: Record<string, unknown>): Promise<Record<string, any>> {
  const def = apiCatalog.find((a) => a.name === name);
  if (!def) throw new Error(`this Strato has no API ${name}`);
  const clean = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined));
  return callApi(def, clean, { baseUrl, session, pollIntervalMs: 200, timeoutMs: 30 * 60_000 });
}
