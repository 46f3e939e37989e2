import { createHash } from 'node:crypto';
import { apiCatalog } from '../api/catalog.ts';
import { callApi } from './client.ts';

/**
 * A whole cloud declared as data and built through the public API, in dependency order (ZStack's
 * EnvSpec): offerings and backup storage with images first, then per zone its clusters, hosts,
 * primary storage and networks, then security groups, VMs (and their NICs' group membership), VIPs
 * and EIPs, data volumes (attached where named) and snapshots. `strato serve --demo` builds one; integration tests build
 * theirs with the same function, so both exercise exactly what a user's script would.
 *
 * @example
 *   const env = await buildEnvironment('http://127.0.0.1:8080', {
 *     zones: [{ name: 'z1', clusters: [{ name: 'c1', hosts: [{ name: 'h1', managementIp: '10.0.0.1' }] }] }],
 *   });
 *   env.uuid('h1');
 */
export interface HostSpec { name: string; managementIp: string; cpuCapacity?: number; memoryCapacity?: number }
export interface ClusterSpec { name: string; hypervisorType?: 'Simulator' | 'KVM'; hosts?: HostSpec[]; primaryStorage?: string[]; l2Networks?: string[] }
export interface PrimaryStorageSpec { name: string; type?: 'Simulator' | 'LocalStorage'; url?: string; totalCapacity?: number; availableCapacity?: number }
export interface IpRangeSpec { startIp: string; endIp: string; netmask: string; gateway: string }
/** An L3 network with addresses from `cidr`, from explicit `ipRanges`, or both. */
export interface L3Spec { name: string; cidr?: string; gateway?: string; ipRanges?: IpRangeSpec[]; category?: 'Private' | 'Public' | 'System'; dns?: string[]; services?: string[] }
export interface L2Spec { name: string; physicalInterface?: string; vlan?: number; l3Networks?: L3Spec[] }
export interface ZoneSpec { name: string; clusters?: ClusterSpec[]; primaryStorage?: PrimaryStorageSpec[]; l2Networks?: L2Spec[]; backupStorage?: string[] }
export interface ImageSpec { name: string; url: string; format?: 'qcow2' | 'raw' | 'iso'; mediaType?: 'RootVolumeTemplate' | 'DataVolumeTemplate' | 'ISO'; platform?: string }
export interface BackupStorageSpec { name: string; url?: string; totalCapacity?: number; images?: ImageSpec[] }
export interface VmSpec {
  name: string; image: string; l3Networks: string[]; instanceOffering?: string; cpuNum?: number; memorySize?: number;
  dataDiskOfferings?: string[]; host?: string; strategy?: 'InstantStart' | 'CreateStopped'; systemTags?: string[]; userTags?: string[];
}
/** A data volume, from an offering or a size, placed on a storage or not, attached to a VM or not. */
export interface VolumeSpec { name: string; diskOffering?: string; diskSize?: number; primaryStorage?: string; vm?: string }
export interface SecurityGroupRuleSpec { type: 'Ingress' | 'Egress'; protocol?: 'TCP' | 'UDP' | 'ICMP' | 'ALL'; startPort?: number; endPort?: number; allowedCidr?: string }
/** A security group attached to L3 networks, with the NICs the named VMs have on them as members. */
export interface SecurityGroupSpec { name: string; rules?: SecurityGroupRuleSpec[]; l3Networks?: string[]; vms?: string[] }
export interface VipSpec { name: string; l3Network: string; ip?: string }
/** An EIP on a VIP, attached to the NIC a VM has on `l3Network` when both are given. */
export interface EipSpec { name: string; vip: string; vm?: string; l3Network?: string }
/** A snapshot of a data volume (`volume`) or of a VM's root volume (`vm`). */
export interface SnapshotSpec { name: string; volume?: string; vm?: string }
export interface EnvSpec {
  account?: { name: string; password: string };
  instanceOfferings?: Array<{ name: string; cpuNum: number; memorySize: number; allocatorStrategy?: string }>;
  diskOfferings?: Array<{ name: string; diskSize: number }>;
  backupStorage?: BackupStorageSpec[];
  zones: ZoneSpec[];
  securityGroups?: SecurityGroupSpec[];
  vms?: VmSpec[];
  vips?: VipSpec[];
  eips?: EipSpec[];
  volumes?: VolumeSpec[];
  snapshots?: SnapshotSpec[];
}

export interface Environment {
  session: string;
  /** The uuid of the resource created under this name; throws for a name the spec does not have. */
  uuid(name: string): string;
  readonly uuids: ReadonlyMap<string, string>;
  /** The uuid of the NIC a VM of the spec has on an L3 network of the spec. */
  nic(vm: string, l3Network: string): string;
}

/** `session`: build as the caller already logged in (its account owns what is made) instead of logging in as `spec.account`. */
export async function buildEnvironment(baseUrl: string, spec: EnvSpec, log: (line: string) => void = () => undefined, opts: { session?: string } = {}): Promise<Environment> {
  const uuids = new Map<string, string>();
  const account = spec.account ?? { name: 'admin', password: 'password' };
  const session = opts.session ?? ((await call(baseUrl, undefined, 'LogInByAccount', { accountName: account.name, password: createHash('sha512').update(account.password).digest('hex') })).inventory as { uuid: string }).uuid;
  const uuid = (name: string): string => {
    const u = uuids.get(name);
    if (!u) throw new Error(`the environment has no resource named ${name}`);
    return u;
  };
  /** VM name → its NICs and root volume, as CreateVmInstance answered. */
  const vmInventories = new Map<string, { rootVolumeUuid: string; vmNics: Array<{ uuid: string; l3NetworkUuid: string }> }>();
  const nic = (vm: string, l3: string): string => {
    const n = vmInventories.get(vm)?.vmNics.find((x) => x.l3NetworkUuid === uuid(l3));
    if (!n) throw new Error(`VM ${vm} of the environment has no NIC on ${l3}`);
    return n.uuid;
  };
  const createInventory = async (api: string, name: string, params: Record<string, unknown>): Promise<Record<string, any>> => {
    if (uuids.has(name)) throw new Error(`two resources are named ${name}: names must be unique in an environment`);
    const r = await call(baseUrl, session, api, { name, ...params });
    const inv = r.inventory as Record<string, any>;
    uuids.set(name, inv.uuid as string);
    log(`${api} ${name} → ${String(inv.uuid)}`);
    return inv;
  };
  const create = async (api: string, name: string, params: Record<string, unknown>): Promise<string> => (await createInventory(api, name, params)).uuid as string;
  const act = (api: string, params: Record<string, unknown>) => call(baseUrl, session, api, params);

  for (const o of spec.instanceOfferings ?? []) await create('CreateInstanceOffering', o.name, { cpuNum: o.cpuNum, memorySize: o.memorySize, allocatorStrategy: o.allocatorStrategy });
  for (const o of spec.diskOfferings ?? []) await create('CreateDiskOffering', o.name, { diskSize: o.diskSize });
  for (const bs of spec.backupStorage ?? []) await create('AddSimulatorBackupStorage', bs.name, { url: bs.url ?? `/backup/${bs.name}`, totalCapacity: bs.totalCapacity });

  for (const z of spec.zones) {
    const zoneUuid = await create('CreateZone', z.name, {});
    for (const bs of z.backupStorage ?? []) await act('AttachBackupStorageToZone', { zoneUuid, backupStorageUuid: uuid(bs) });
    for (const ps of z.primaryStorage ?? []) {
      if (ps.type === 'LocalStorage') await create('AddLocalPrimaryStorage', ps.name, { zoneUuid, url: ps.url ?? `/var/lib/strato/${ps.name}` });
      else await create('AddSimulatorPrimaryStorage', ps.name, { zoneUuid, url: ps.url ?? `/primary/${ps.name}`, totalCapacity: ps.totalCapacity, availableCapacity: ps.availableCapacity ?? ps.totalCapacity });
    }
    for (const l2 of z.l2Networks ?? []) {
      const l2Uuid = l2.vlan === undefined
        ? await create('CreateL2NoVlanNetwork', l2.name, { zoneUuid, physicalInterface: l2.physicalInterface ?? 'eth0' })
        : await create('CreateL2VlanNetwork', l2.name, { zoneUuid, physicalInterface: l2.physicalInterface ?? 'eth0', vlan: l2.vlan });
      for (const l3 of l2.l3Networks ?? []) {
        const l3Uuid = await create('CreateL3Network', l3.name, { l2NetworkUuid: l2Uuid, category: l3.category ?? 'Private' });
        if (l3.cidr) await act('AddIpRangeByNetworkCidr', { l3NetworkUuid: l3Uuid, name: `${l3.name}-range`, networkCidr: l3.cidr, gateway: l3.gateway });
        for (const [i, r] of (l3.ipRanges ?? []).entries()) await act('AddIpRange', { l3NetworkUuid: l3Uuid, name: `${l3.name}-range-${i}`, ...r });
        for (const dns of l3.dns ?? []) await act('AddDnsToL3Network', { l3NetworkUuid: l3Uuid, dns });
        if (l3.services?.length) await attachServices(l3Uuid, l3.services);
      }
    }
    for (const c of z.clusters ?? []) {
      const clusterUuid = await create('CreateCluster', c.name, { zoneUuid, hypervisorType: c.hypervisorType ?? 'Simulator' });
      for (const ps of c.primaryStorage ?? []) await act('AttachPrimaryStorageToCluster', { clusterUuid, primaryStorageUuid: uuid(ps) });
      for (const l2 of c.l2Networks ?? []) await act('AttachL2NetworkToCluster', { clusterUuid, l2NetworkUuid: uuid(l2) });
      for (const h of c.hosts ?? []) await create('AddSimulatorHost', h.name, { clusterUuid, managementIp: h.managementIp, cpuCapacity: h.cpuCapacity ?? 16, memoryCapacity: h.memoryCapacity ?? 64 * 2 ** 30 });
    }
  }

  // Images once their backup storage is attached to a zone.
  for (const bs of spec.backupStorage ?? []) {
    for (const img of bs.images ?? []) await create('AddImage', img.name, { url: img.url, format: img.format ?? 'qcow2', mediaType: img.mediaType ?? 'RootVolumeTemplate', platform: img.platform ?? 'Linux', backupStorageUuids: [uuid(bs.name)] });
  }

  for (const sg of spec.securityGroups ?? []) {
    const sgUuid = await create('CreateSecurityGroup', sg.name, {});
    if (sg.rules?.length) await act('AddSecurityGroupRule', { securityGroupUuid: sgUuid, rules: sg.rules });
    for (const l3 of sg.l3Networks ?? []) await act('AttachSecurityGroupToL3Network', { securityGroupUuid: sgUuid, l3NetworkUuid: uuid(l3) });
  }

  for (const vm of spec.vms ?? []) {
    const inv = await createInventory('CreateVmInstance', vm.name, {
      instanceOfferingUuid: vm.instanceOffering ? uuid(vm.instanceOffering) : undefined,
      cpuNum: vm.cpuNum,
      memorySize: vm.memorySize,
      imageUuid: uuid(vm.image),
      l3NetworkUuids: vm.l3Networks.map(uuid),
      dataDiskOfferingUuids: vm.dataDiskOfferings?.map(uuid),
      hostUuid: vm.host ? uuid(vm.host) : undefined,
      strategy: vm.strategy,
      systemTags: vm.systemTags,
      userTags: vm.userTags,
    });
    vmInventories.set(vm.name, { rootVolumeUuid: inv.rootVolumeUuid, vmNics: inv.vmNics ?? [] });
  }

  // Security group members: the NICs the named VMs have on the group's L3 networks.
  for (const sg of spec.securityGroups ?? []) {
    const nics = (sg.vms ?? []).flatMap((vm) => {
      // A misspelt VM must fail the build, not leave the group silently without its member.
      const made = vmInventories.get(vm);
      if (!made) throw new Error(`security group ${sg.name} names VM ${vm}, which the environment does not have`);
      return (sg.l3Networks ?? []).filter((l3) => made.vmNics.some((n) => n.l3NetworkUuid === uuid(l3))).map((l3) => nic(vm, l3));
    });
    if (nics.length) await act('AddVmNicToSecurityGroup', { securityGroupUuid: uuid(sg.name), vmNicUuids: nics });
  }
  for (const vip of spec.vips ?? []) await create('CreateVip', vip.name, { l3NetworkUuid: uuid(vip.l3Network), requiredIp: vip.ip });
  for (const eip of spec.eips ?? []) {
    if (Boolean(eip.vm) !== Boolean(eip.l3Network)) throw new Error(`EIP ${eip.name} must name both a VM and its L3 network, or neither`);
    await create('CreateEip', eip.name, { vipUuid: uuid(eip.vip), vmNicUuid: eip.vm && eip.l3Network ? nic(eip.vm, eip.l3Network) : undefined });
  }
  for (const v of spec.volumes ?? []) {
    const volumeUuid = await create('CreateDataVolume', v.name, {
      diskOfferingUuid: v.diskOffering ? uuid(v.diskOffering) : undefined, diskSize: v.diskSize, primaryStorageUuid: v.primaryStorage ? uuid(v.primaryStorage) : undefined,
    });
    if (v.vm) await act('AttachDataVolumeToVm', { volumeUuid, vmInstanceUuid: uuid(v.vm) });
  }
  for (const s of spec.snapshots ?? []) {
    const volumeUuid = s.volume ? uuid(s.volume) : s.vm ? vmInventories.get(s.vm)?.rootVolumeUuid : undefined;
    if (!volumeUuid) throw new Error(`snapshot ${s.name} names neither a volume nor a VM of the environment`);
    await create('CreateVolumeSnapshot', s.name, { volumeUuid });
  }
  return { session, uuid, uuids, nic };

  async function attachServices(l3NetworkUuid: string, types: string[]): Promise<void> {
    const providers = (await act('QueryNetworkServiceProvider', {})).inventories as Array<{ uuid: string; networkServiceTypes?: string[]; type: string }>;
    const byProvider: Record<string, string[]> = {};
    for (const t of types) {
      const p = providers.find((x) => (t === 'SecurityGroup' ? x.type === 'SecurityGroup' : x.type === 'Flat'));
      if (!p) throw new Error(`no network service provider offers ${t}`);
      (byProvider[p.uuid] ??= []).push(t);
    }
    await act('AttachNetworkServiceToL3Network', { l3NetworkUuid, networkServices: byProvider });
  }
}

async function call(baseUrl: string, session: string | undefined, name: string, params: Record<string, unknown>): Promise<Record<string, any>> {
  const api = apiCatalog.find((a) => a.name === name);
  if (!api) throw new Error(`this Strato has no API ${name}`);
  const clean = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined));
  return callApi(api, clean, { baseUrl, session, pollIntervalMs: 20 });
}
