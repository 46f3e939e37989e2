import type { CreateVmCtx, PlannedNic, PlannedVolume } from '../../contracts/vm.ts';
import { VmEvents, VmLifecyclePoint, type VmInstanceView } from '../../contracts/vm.ts';
import type { ApiParams } from '../../core/api/define-api.ts';
import { readCache } from '../../core/db/index.ts';
import { rowByKey } from '../../core/db/rows-by-key.ts';
import type { Message } from '../../core/bus/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { FlowChain } from '../../core/flow/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import type { SystemTagPattern } from '../../core/tag/index.ts';
import { newUuid } from '../../core/util/uuid.ts';
import type { CreateVmInstance } from './apis.ts';
import { loadVm, vmInventory } from './vm-store.ts';

export const vmQueueOf = (uuid: string) => `vm-${uuid}`;

const RARELY_WRITTEN = new Set(['image', 'instance_offering', 'disk_offering', 'l3_network', 'zone', 'cluster']);

const notFound = (what: string, uuid: string) => new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find ${what}[uuid:${uuid}]`);

/**
 * CreateVmInstance: everything the API names is checked before anything is made (so a bad request
 * changes nothing), then the `vm.create` chain runs in the new VM's queue.
 */
export function createVmHandler(ctx: NodeContext, deps: { chain: FlowChain<CreateVmCtx>; staticIpTag: SystemTagPattern }) {
  const { db, queues, flowEngine, extensions, bus, inventories } = ctx;
  const cache = readCache(db);
  // Images, offerings, L3 networks, zones and clusters change seldom: their rows come from the read cache
  // (fresh after any write to their table); VMs, hosts and primary storages change with every create.
  const one = (table: string, uuid: string, columns: string[] = ['uuid']) => {
    const read = () => rowByKey(db, table, columns, 'uuid', uuid);
    return RARELY_WRITTEN.has(table) ? cache.get(`vm.create:${table}:${uuid}:${columns.join(',')}`, [table], read) : read();
  };

  return async function createVm(msg: Message<ApiParams<typeof CreateVmInstance>>) {
    const p = msg.body;
    const image = await one('image', p.imageUuid, ['uuid', 'state', 'status', 'size', 'mediaType', 'platform', 'architecture', 'guestOsType']);
    if (!image) throw notFound('Image', p.imageUuid);
    if (image.status !== 'Ready' || image.state !== 'Enabled') throw new StratoError(SysErrors.OPERATION_ERROR, `image ${p.imageUuid} is ${String(image.state)}/${String(image.status)}; a VM needs an Enabled, Ready image`);
    if (image.mediaType !== 'RootVolumeTemplate') throw new StratoError(SysErrors.OPERATION_ERROR, `image ${p.imageUuid} is a ${String(image.mediaType)}; only a RootVolumeTemplate can be a VM's root volume`);

    let cpuNum = p.cpuNum;
    let memorySize = p.memorySize;
    let cpuSpeed = 0;
    let allocatorStrategy: string | undefined = p.allocatorStrategy;
    if (p.instanceOfferingUuid) {
      const io = await one('instance_offering', p.instanceOfferingUuid, ['cpuNum', 'memorySize', 'cpuSpeed', 'allocatorStrategy', 'state']);
      if (!io) throw notFound('InstanceOffering', p.instanceOfferingUuid);
      if (io.state !== 'Enabled') throw new StratoError(SysErrors.OPERATION_ERROR, `instance offering ${p.instanceOfferingUuid} is ${String(io.state)}`);
      cpuNum ??= Number(io.cpuNum);
      memorySize ??= Number(io.memorySize);
      cpuSpeed = Number(io.cpuSpeed);
      allocatorStrategy ??= (io.allocatorStrategy as string | null) ?? undefined;
    }
    if (cpuNum === undefined || memorySize === undefined) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, 'a VM needs an instanceOfferingUuid, or cpuNum and memorySize');

    const l3Uuids = p.l3NetworkUuids;
    if (new Set(l3Uuids).size !== l3Uuids.length) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `l3NetworkUuids ${JSON.stringify(l3Uuids)} name an L3 network twice`);
    const l3s = [];
    for (const uuid of l3Uuids) {
      const l3 = await one('l3_network', uuid, ['uuid', 'zoneUuid', 'state']);
      if (!l3) throw notFound('L3Network', uuid);
      if (l3.state !== 'Enabled') throw new StratoError(SysErrors.OPERATION_ERROR, `L3 network ${uuid} is ${String(l3.state)}`);
      l3s.push(l3);
    }
    if (p.defaultL3NetworkUuid && !(await one('l3_network', p.defaultL3NetworkUuid))) throw notFound('L3Network', p.defaultL3NetworkUuid);
    if (p.defaultL3NetworkUuid && !l3Uuids.includes(p.defaultL3NetworkUuid)) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `the default L3 network ${p.defaultL3NetworkUuid} is not one of l3NetworkUuids`);

    const dataSizes: Array<{ uuid: string; size: number }> = [];
    for (const uuid of p.dataDiskOfferingUuids ?? []) {
      const d = await one('disk_offering', uuid, ['diskSize', 'state']);
      if (!d) throw notFound('DiskOffering', uuid);
      if (d.state !== 'Enabled') throw new StratoError(SysErrors.OPERATION_ERROR, `disk offering ${uuid} is ${String(d.state)}`);
      dataSizes.push({ uuid, size: Number(d.diskSize) });
    }

    let zoneUuid = p.zoneUuid;
    if (p.zoneUuid && !(await one('zone', p.zoneUuid))) throw notFound('Zone', p.zoneUuid);
    if (p.clusterUuid) {
      const cl = await one('cluster', p.clusterUuid, ['zoneUuid']);
      if (!cl) throw notFound('Cluster', p.clusterUuid);
      zoneUuid ??= cl.zoneUuid as string;
    }
    if (p.hostUuid) {
      const h = await one('host', p.hostUuid, ['zoneUuid']);
      if (!h) throw notFound('Host', p.hostUuid);
      zoneUuid ??= h.zoneUuid as string;
    }
    if (p.primaryStorageUuidForRootVolume) {
      const ps = await one('primary_storage', p.primaryStorageUuidForRootVolume, ['zoneUuid']);
      if (!ps) throw notFound('PrimaryStorage', p.primaryStorageUuidForRootVolume);
      zoneUuid ??= ps.zoneUuid as string;
    }
    zoneUuid ??= l3s[0].zoneUuid as string;
    const foreign = l3s.find((l3) => l3.zoneUuid !== zoneUuid);
    if (foreign) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `L3 network ${String(foreign.uuid)} is not in zone ${zoneUuid}`);

    const staticIps = new Map<string, string>();
    for (const tag of p.systemTags ?? []) {
      const t = deps.staticIpTag.parse(tag);
      if (!t) continue;
      if (!l3Uuids.includes(t.l3NetworkUuid)) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `the system tag ${tag} names L3 network ${t.l3NetworkUuid}, which is not one of l3NetworkUuids`);
      staticIps.set(t.l3NetworkUuid, t.ip);
    }

    const uuid = p.resourceUuid ?? newUuid();
    if (p.resourceUuid && (await one('vm_instance', uuid))) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `a VM with uuid ${uuid} already exists`);
    const rootVolume: PlannedVolume = { uuid: newUuid(), size: Number(image.size ?? 0), deviceId: 0 };
    const flowCtx: CreateVmCtx = {
      uuid, name: p.name, description: p.description, imageUuid: p.imageUuid, instanceOfferingUuid: p.instanceOfferingUuid, cpuNum, memorySize, cpuSpeed, allocatorStrategy,
      zoneUuid, clusterUuid: p.clusterUuid, hostUuid: p.hostUuid, primaryStorageUuidForRootVolume: p.primaryStorageUuidForRootVolume,
      l3NetworkUuids: l3Uuids, defaultL3NetworkUuid: p.defaultL3NetworkUuid ?? l3Uuids[0], dataDiskOfferingUuids: p.dataDiskOfferingUuids ?? [], strategy: p.strategy ?? 'InstantStart',
      platform: (image.platform as string | null) ?? null, architecture: (image.architecture as string | null) ?? null, guestOsType: (image.guestOsType as string | null) ?? null,
      systemTags: p.systemTags, userTags: p.userTags,
      rootVolume,
      dataVolumes: dataSizes.map((d, i) => ({ uuid: newUuid(), size: d.size, diskOfferingUuid: d.uuid, deviceId: i + 1 })),
      nics: l3Uuids.map((l3, i): PlannedNic => ({ uuid: newUuid(), l3NetworkUuid: l3, deviceId: i, staticIp: staticIps.get(l3) })),
    };
    await queues.submit(vmQueueOf(uuid), () => flowEngine.run(deps.chain, flowCtx, { resourceUuid: uuid }));
    const vm = await loadVm(db, uuid);
    await extensions.callSafe(VmLifecyclePoint, 'afterCreate', vm);
    await extensions.callSafe(VmLifecyclePoint, 'afterStateChange', vm, 'Created');
    void bus.publish(VmEvents.stateChanged, { vmUuid: uuid, previous: 'Created', state: vm.state, hostUuid: (vm as VmInstanceView).hostUuid });
    return vmInventory(db, uuid, inventories);
  };
}
