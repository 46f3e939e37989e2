import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { apiCatalog } from '../api/catalog.ts';
import { ensureFlatInterface, ensureHostPackages, ensureLoopbackSshd, ensureTinyGuest, stopLoopbackSshd, stratoHome } from './all-in-one-host.ts';
import { callApi } from './client.ts';

/** The flat network's own interface (a dummy made for it) and addresses; see ensureFlatInterface. */
export const FLAT_INTERFACE = 'strato0';
const FLAT = { gateway: '192.168.200.1', netmask: '255.255.255.0', prefix: 24, startIp: '192.168.200.10', endIp: '192.168.200.200' };

/** What `strato serve --all-in-one` needs to make this machine its own KVM host. */
export interface AllInOneOptions {
  /**
   * This machine's address as the KVM host's and the image store's management IP, with `sshKeyFile`
   * or `sshPassword` (a login the operator provides). Without those the node logs in to 127.0.0.1
   * through its own loopback sshd, with a key it makes (all-in-one-host.ts), and this is ignored.
   */
  hostIp?: string;
  /** The interface of the flat network's NoVlan bridge: `strato0` (made as a dummy), or one the operator names. */
  physicalInterface: string;
  sshUser: string;
  sshPassword?: string;
  sshKeyFile?: string;
  /** The loopback sshd's port (own-key mode), or the port of the operator's sshd. */
  sshPort?: number;
  /** Where storage lives: `<dataDir>/local-ps`, `<dataDir>/image-store`, agents under `<dataDir>/agents`. */
  dataDir: string;
  /** The first VM's image (http(s):// or file://); default: the built-in tiny guest, built and cached. */
  imageUrl?: string;
  /** The node's URL as others reach it, for the summary. */
  nodeUrl: string;
  log: (line: string) => void;
}

export interface AllInOneResult {
  hostUuid: string;
  vmUuid?: string;
  consoleUrl?: string;
}

/**
 * The quick start (ZStack's all-in-one): prepares this machine (packages, an sshd for the node, the flat
 * network's interface, the built-in image), then, through the API as a user would: one zone with this
 * machine as a KVM host (its agent deployed by Ansible over SSH to itself), an image store on it, local
 * storage, a flat NoVlan network with the Flat provider's DHCP, and a first VM. Prints where to reach
 * the API and the VM's console. A database that already has the zone is only reported on.
 */
export async function buildAllInOne(baseUrl: string, o: AllInOneOptions): Promise<AllInOneResult | undefined> {
  const ownLogin = !o.sshKeyFile && !o.sshPassword;

  // The machine side runs on every start: after a reboot the sshd and the dummy interface are gone.
  if (ownLogin && process.getuid?.() !== 0) throw new Error('--all-in-one makes this machine a KVM host (packages, an sshd, bridges, taps): run it as root, e.g. sudo bash scripts/quick-start.sh');
  ensureHostPackages(o.log);
  let login: { username: string; password?: string; sshPrivateKey?: string; sshPort?: number };
  let hostIp: string;
  if (ownLogin) {
    const ssh = ensureLoopbackSshd(stratoHome(), o.sshPort ?? 2222, o.log);
    login = { username: ssh.username, sshPrivateKey: readFileSync(ssh.privateKeyFile, 'utf8'), sshPort: ssh.port };
    hostIp = '127.0.0.1';
  } else {
    if (!o.hostIp) throw new Error('--all-in-one with --ssh-key-file or --ssh-password needs --host-ip (this machine\'s address for that login)');
    login = { username: o.sshUser, password: o.sshPassword, sshPrivateKey: o.sshKeyFile ? readFileSync(o.sshKeyFile, 'utf8') : undefined, sshPort: o.sshPort };
    hostIp = o.hostIp;
  }
  if (o.physicalInterface === FLAT_INTERFACE) ensureFlatInterface(FLAT_INTERFACE, `${FLAT.gateway}/${FLAT.prefix}`, o.log);

  // The build logs in with the default admin password: once the operator changed it (as the summary
  // says to), a later start only prepares the machine (above) and serves, instead of failing.
  let session: string;
  try {
    session = String((await call(baseUrl, undefined, 'LogInByAccount', { accountName: 'admin', password: createHash('sha512').update('password').digest('hex') })).inventory.uuid);
  } catch (e) {
    o.log(`  All-in-one: cannot log in as admin with the default password (${e instanceof Error ? e.message : String(e)}); the machine is ready, the cloud in this database is left as it is`);
    return undefined;
  }
  const api = (name: string, params: Record<string, unknown>) => call(baseUrl, session, name, params);
  const existing = (await api('QueryZone', { q: ['name=all-in-one'] })).inventories as Array<{ uuid: string }>;
  if (existing.length) {
    o.log('  All-in-one: already built in this database (zone all-in-one)');
    const vm = ((await api('QueryVmInstance', { q: ['name=first-vm', `zoneUuid=${existing[0].uuid}`] })).inventories as Array<{ uuid: string; hostUuid: string | null; state: string }>)[0];
    const host = ((await api('QueryHost', { q: [`zoneUuid=${existing[0].uuid}`] })).inventories as Array<{ uuid: string }>)[0];
    if (!vm) o.log(`  All-in-one: its build did not finish (no VM first-vm); to start over, stop the node and remove ${o.dataDir}`);
    const consoleUrl = await printAccess(api, o, vm?.state === 'Running' ? vm.uuid : undefined);
    return host ? { hostUuid: host.uuid, vmUuid: vm?.uuid, consoleUrl } : undefined;
  }

  try {
    return await buildResources(api, o, login, hostIp);
  } catch (e) {
    // The zone exists now: a second start would take the build as done. Say how to start over.
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(`${why}\n  (to start over once the cause is fixed: stop, remove ${o.dataDir} and run again)`, { cause: e });
  }
}

/**
 * What the node's stop undoes of the all-in-one: the loopback sshd it logs in through (own-key mode),
 * which nothing needs while no node runs; the next start brings it back. Agents and VMs run on.
 */
export function stopAllInOne(o: Pick<AllInOneOptions, 'sshKeyFile' | 'sshPassword'>): void {
  if (!o.sshKeyFile && !o.sshPassword) stopLoopbackSshd(stratoHome());
}

type Api = (name: string, params: Record<string, unknown>) => Promise<Record<string, any>>;

async function buildResources(api: Api, o: AllInOneOptions, login: Record<string, unknown>, hostIp: string): Promise<AllInOneResult> {
  const agents = join(o.dataDir, 'agents');
  for (const category of ['kvm', 'imageStore']) await api('UpdateGlobalConfig', { category, name: 'agent.rootDir', value: agents });
  const zone = (await api('CreateZone', { name: 'all-in-one' })).inventory.uuid;
  const cluster = (await api('CreateCluster', { name: 'all-in-one', zoneUuid: zone, hypervisorType: 'KVM' })).inventory.uuid;
  const ps = (await api('AddLocalPrimaryStorage', { name: 'local', zoneUuid: zone, url: join(o.dataDir, 'local-ps') })).inventory.uuid;
  await api('AttachPrimaryStorageToCluster', { clusterUuid: cluster, primaryStorageUuid: ps });
  const l2 = (await api('CreateL2NoVlanNetwork', { name: 'flat', zoneUuid: zone, physicalInterface: o.physicalInterface })).inventory.uuid;
  await api('AttachL2NetworkToCluster', { clusterUuid: cluster, l2NetworkUuid: l2 });
  const l3 = (await api('CreateL3Network', { name: 'flat', l2NetworkUuid: l2, category: 'Private' })).inventory.uuid;
  await api('AddIpRange', { l3NetworkUuid: l3, name: 'flat', startIp: FLAT.startIp, endIp: FLAT.endIp, netmask: FLAT.netmask, gateway: FLAT.gateway });
  // DHCP the ZStack way: the Flat provider's DHCP service on the L3 (the hosts' agents serve the leases).
  const flat = ((await api('QueryNetworkServiceProvider', { q: ['type=Flat'] })).inventories as Array<{ uuid: string }>)[0];
  if (flat) await api('AttachNetworkServiceToL3Network', { l3NetworkUuid: l3, networkServices: { [flat.uuid]: ['DHCP'] } });
  else o.log('  All-in-one: no Flat network service provider in this Strato: the first VM gets its address but no DHCP server');
  const offering = (await api('CreateInstanceOffering', { name: 'small', cpuNum: 1, memorySize: 256 * 1024 ** 2 })).inventory.uuid;
  o.log(`  All-in-one: deploying the agents on ${hostIp} by Ansible (a KVM host and an image store)…`);
  const host = (await api('AddKVMHost', { name: 'this-machine', clusterUuid: cluster, managementIp: hostIp, ...login })).inventory.uuid;
  const bs = (await api('AddImageStoreBackupStorage', { name: 'images', url: join(o.dataDir, 'image-store'), hostname: hostIp, ...login })).inventory.uuid;
  await api('AttachBackupStorageToZone', { zoneUuid: zone, backupStorageUuid: bs });
  o.log(`  All-in-one: KVM host ${host} Connected, image store ${bs}`);
  const imageUrl = o.imageUrl ?? ensureTinyGuest(o.log);
  const image = (await api('AddImage', { name: o.imageUrl ? 'first-image' : 'tiny-guest', url: imageUrl, format: 'qcow2', mediaType: 'RootVolumeTemplate', platform: 'Linux', backupStorageUuids: [bs] })).inventory.uuid;
  const vm = (await api('CreateVmInstance', { name: 'first-vm', instanceOfferingUuid: offering, imageUuid: image, l3NetworkUuids: [l3] })).inventory;
  o.log(`  All-in-one: VM first-vm ${vm.uuid} is Running on this machine (${vm.vmNics?.[0]?.ip ?? 'no address'} on the flat network)`);
  return { hostUuid: host, vmUuid: vm.uuid, consoleUrl: await printAccess(api, o, vm.uuid) };
}

/** Where to go next: the API, how to log in, and the VM's console (a one-time URL when the node can make one). */
async function printAccess(api: Api, o: AllInOneOptions, vmUuid?: string): Promise<string | undefined> {
  o.log(`  Ready:   API ${o.nodeUrl}/zstack/v1/ — log in with: npx strato cli LogInByAccount accountName=admin password=password (change it: UpdateAccount)`);
  if (!vmUuid) return undefined;
  if (!apiCatalog.some((a) => a.name === 'RequestConsoleAccess')) {
    o.log(`  Console: this Strato cannot open consoles yet; the VM's VNC is on the host's loopback (QueryVmInstance uuid=${vmUuid})`);
    return undefined;
  }
  try {
    const c = (await api('RequestConsoleAccess', { vmInstanceUuid: vmUuid })).inventory as { url: string; expiredDate?: string };
    o.log(`  Console: ${c.url}  (one use${c.expiredDate ? `, until ${c.expiredDate}` : ''}; another: npx strato cli RequestConsoleAccess vmInstanceUuid=${vmUuid})`);
    return c.url;
  } catch (e) {
    o.log(`  Console: not available now (${e instanceof Error ? e.message : String(e)}); later: npx strato cli RequestConsoleAccess vmInstanceUuid=${vmUuid}`);
    return undefined;
  }
}

async function call(baseUrl: string, session: string | undefined, name: string, params: Record<string, unknown>): Promise<Record<string, any>> {
  const def = apiCatalog.find((a) => a.name === name);
  if (!def) throw new Error(`this Strato has no API ${name}`);
  const clean = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined));
  return callApi(def, clean, { baseUrl, session, pollIntervalMs: 200, timeoutMs: 30 * 60_000 });
}
