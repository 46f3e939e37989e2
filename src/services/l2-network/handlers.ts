import { L2NetworkLifecyclePoint, L2NetworkTypes, type CreateL2NetworkCtx } from '../../contracts/network.ts';
import type { ApiParams } from '../../core/api/define-api.ts';
import type { Message } from '../../core/bus/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { FlowChain } from '../../core/flow/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import type { NormalizedInventoryDef } from '../../core/query/index.ts';
import { findRow, loadInventory, notFound, patchRow } from '../../core/resource/resource-store.ts';
import { newUuid } from '../../core/util/uuid.ts';
import type { CreateL2NoVlanNetwork, CreateL2VlanNetwork, CreateL2VxlanNetwork, CreateL2VxlanNetworkPool, CreateVniRange, DeleteL2Network, DeleteVniRange, UpdateL2Network } from './apis.ts';
import { l2View } from './l2-view.ts';
import { L2NetworkInventory, L2VlanNetworkInventory, L2VxlanNetworkInventory, L2VxlanNetworkPoolInventory, VniRangeInventory } from './schema.ts';

/** Every operation on an existing L2 network (and on a pool's VNI ranges and VXLAN networks) runs in its queue. */
export const l2Queue = (uuid: string) => `l2-${uuid}`;

type CreateParams = ApiParams<typeof CreateL2NoVlanNetwork> & { vlan?: number; vni?: number; poolUuid?: string; zoneUuid?: string; physicalInterface?: string };

export function l2Handlers(ctx: NodeContext, createChain: FlowChain<CreateL2NetworkCtx>) {
  const { db, queues, extensions, cascade } = ctx;

  async function create(p: CreateParams, type: string, inv: NormalizedInventoryDef) {
    const uuid = p.resourceUuid ?? newUuid();
    if (p.resourceUuid && (await findRow(db, L2NetworkInventory, uuid))) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `an L2 network with uuid ${uuid} already exists`);
    const flowCtx: CreateL2NetworkCtx = {
      uuid, name: p.name, description: p.description, zoneUuid: p.zoneUuid ?? '', physicalInterface: p.physicalInterface ?? null, type, vSwitchType: p.vSwitchType ?? 'LinuxBridge',
      virtualNetworkId: p.vlan ?? p.vni ?? null, poolUuid: p.poolUuid ?? null, systemTags: p.systemTags, userTags: p.userTags,
    };
    // A VXLAN network is created in its pool's queue: VNI picks on one node never race each other.
    const run = () => ctx.flowEngine.run(createChain, flowCtx, { resourceUuid: uuid });
    await (p.poolUuid ? queues.submit(l2Queue(p.poolUuid), run) : run());
    const row = await loadInventory(db, inv, uuid);
    await extensions.callSafe(L2NetworkLifecyclePoint, 'afterCreate', l2View((await findRow(db, L2NetworkInventory, uuid))!));
    return row;
  }

  async function loadPool(uuid: string) {
    const pool = await findRow(db, L2VxlanNetworkPoolInventory, uuid);
    if (!pool) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find L2VxlanNetworkPool[uuid:${uuid}]`);
    return pool;
  }

  return {
    CreateL2NoVlanNetwork: (msg: Message<ApiParams<typeof CreateL2NoVlanNetwork>>) => create(msg.body, L2NetworkTypes.noVlan, L2NetworkInventory),
    CreateL2VlanNetwork: (msg: Message<ApiParams<typeof CreateL2VlanNetwork>>) => create(msg.body, L2NetworkTypes.vlan, L2VlanNetworkInventory),
    CreateL2VxlanNetworkPool: (msg: Message<ApiParams<typeof CreateL2VxlanNetworkPool>>) => create(msg.body as CreateParams, L2NetworkTypes.vxlanPool, L2VxlanNetworkPoolInventory),
    CreateL2VxlanNetwork: (msg: Message<ApiParams<typeof CreateL2VxlanNetwork>>) => create(msg.body as CreateParams, L2NetworkTypes.vxlan, L2VxlanNetworkInventory),

    async CreateVniRange(msg: Message<ApiParams<typeof CreateVniRange>>) {
      const p = msg.body;
      if (p.startVni > p.endVni) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `startVni ${p.startVni} is greater than endVni ${p.endVni}`);
      return queues.submit(l2Queue(p.l2NetworkUuid), async () => {
        await loadPool(p.l2NetworkUuid);
        const overlap = await db.selectFrom('vni_range').select(['uuid', 'startVni', 'endVni']).where('l2NetworkUuid', '=', p.l2NetworkUuid).where('startVni', '<=', p.endVni).where('endVni', '>=', p.startVni).executeTakeFirst();
        if (overlap) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `VNI range [${p.startVni}, ${p.endVni}] overlaps the range ${overlap.uuid} [${overlap.startVni}, ${overlap.endVni}] of the pool`);
        const uuid = p.resourceUuid ?? newUuid();
        const now = Date.now();
        await db.insertInto('vni_range').values({ uuid, name: p.name, description: p.description ?? null, l2NetworkUuid: p.l2NetworkUuid, startVni: p.startVni, endVni: p.endVni, createDate: now, lastOpDate: now }).execute();
        if (p.systemTags?.length || p.userTags?.length) await ctx.tags.createFromApi(p, uuid, 'VniRangeVO');
        return loadInventory(db, VniRangeInventory, uuid);
      });
    },

    async DeleteVniRange(msg: Message<ApiParams<typeof DeleteVniRange>>) {
      const range = await findRow(db, VniRangeInventory, msg.body.uuid);
      if (!range) return {};
      const poolUuid = range.l2NetworkUuid as string;
      return queues.submit(l2Queue(poolUuid), async () => {
        const inUse = await db.selectFrom('l2_network').select(['uuid', 'virtualNetworkId']).where('poolUuid', '=', poolUuid).where('virtualNetworkId', '>=', range.startVni as number).where('virtualNetworkId', '<=', range.endVni as number).executeTakeFirst();
        if (inUse) throw new StratoError(SysErrors.OPERATION_ERROR, `the VNI range ${msg.body.uuid} is in use: VXLAN network ${inUse.uuid} has VNI ${inUse.virtualNetworkId}`);
        await db.deleteFrom('vni_range').where('uuid', '=', msg.body.uuid).execute();
        await ctx.tags.deleteForResources([msg.body.uuid]);
        return {};
      });
    },

    async UpdateL2Network(msg: Message<ApiParams<typeof UpdateL2Network>>) {
      const p = msg.body;
      return queues.submit(l2Queue(p.uuid), () => patchRow(db, L2NetworkInventory, p.uuid, { name: p.name, description: p.description }));
    },

    async DeleteL2Network(msg: Message<ApiParams<typeof DeleteL2Network>>) {
      const p = msg.body;
      const row = await findRow(db, L2NetworkInventory, p.uuid);
      if (!row) return {};
      // A pool takes its VXLAN networks (and their L3 networks) with it.
      const members = row.type === L2NetworkTypes.vxlanPool ? (await db.selectFrom('l2_network').select('uuid').where('poolUuid', '=', p.uuid).execute()).map((r) => r.uuid as string) : [];
      const mode = p.deleteMode ?? 'Permissive';
      const result = await cascade.delete({ resource: 'L2NetworkVO', uuids: [...members, p.uuid], mode });
      if (result.errors.length && mode === 'Permissive') throw new StratoError(SysErrors.DELETE_RESOURCE_ERROR, `failed to delete L2 network ${p.uuid}`, { cause: result.errors[0].error });
      return {};
    },
  };
}

export function l2NotFound(uuid: string): StratoError {
  return notFound(L2NetworkInventory, uuid);
}
