import { L3NetworkLifecyclePoint, type CreateL3NetworkCtx, type L3NetworkView } from '../../contracts/network.ts';
import type { ApiParams } from '../../core/api/define-api.ts';
import type { Message } from '../../core/bus/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { findRow, loadInventory, notFound, patchRow, stateAfter } from '../../core/resource/resource-store.ts';
import { newUuid } from '../../core/util/uuid.ts';
import type { AddDnsToL3Network, AddIpRange, AddIpRangeByNetworkCidr, ChangeL3NetworkState, CreateL3Network, DeleteIpRange, DeleteL3Network, RemoveDnsFromL3Network, UpdateL3Network } from './apis.ts';
import { createL3Chain } from './flows/create-l3-chain.ts';
import { checkAgainstExisting, rangeFromAddresses, rangesFromCidr, type NewIpRange } from './ip-range-validation.ts';
import { isIpv4 } from './ipv4.ts';
import { IpRangeInventory, L3NetworkInventory } from './schema.ts';
import { isUniqueViolation } from '../../core/db/unique-violation.ts';

/** Every change to an L3 network, its ranges and DNS runs in its queue; IP allocation does not (the UNIQUE index arbitrates). */
export const l3Queue = (uuid: string) => `l3-${uuid}`;

export function l3Handlers(ctx: NodeContext) {
  const { db, queues, extensions, cascade, tags } = ctx;
  const load = (uuid: string) => loadInventory(db, L3NetworkInventory, uuid);

  async function insertRanges(p: { l3NetworkUuid: string; name: string; description?: string; resourceUuid?: string; systemTags?: string[]; userTags?: string[] }, ranges: NewIpRange[]) {
    return queues.submit(l3Queue(p.l3NetworkUuid), async () => {
      await load(p.l3NetworkUuid);
      await checkAgainstExisting(db, p.l3NetworkUuid, ranges);
      const uuids = ranges.map((_, i) => (i === 0 && p.resourceUuid ? p.resourceUuid : newUuid()));
      const now = Date.now();
      await db.transaction().execute(async (tx) => {
        for (const [i, r] of ranges.entries()) {
          await tx.insertInto('ip_range').values({ uuid: uuids[i], l3NetworkUuid: p.l3NetworkUuid, name: p.name, description: p.description ?? null, ...r, ipVersion: 4, addressMode: null, ipRangeType: 'Normal', createDate: now, lastOpDate: now }).execute();
          await tags.createFromApi(p, uuids[i], 'IpRangeVO', tx);
        }
      });
      return Promise.all(uuids.map((u) => loadInventory(db, IpRangeInventory, u)));
    });
  }

  return {
    async CreateL3Network(msg: Message<ApiParams<typeof CreateL3Network>>) {
      const p = msg.body;
      const uuid = p.resourceUuid ?? newUuid();
      if (p.resourceUuid && (await findRow(db, L3NetworkInventory, uuid))) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `an L3 network with uuid ${uuid} already exists`);
      const flowCtx: CreateL3NetworkCtx = { uuid, name: p.name, description: p.description, type: p.type ?? 'L3BasicNetwork', l2NetworkUuid: p.l2NetworkUuid, category: p.category ?? 'Private', system: p.system ?? false, dnsDomain: p.dnsDomain, systemTags: p.systemTags, userTags: p.userTags };
      // In the L2 network's queue: never created into an L2 network being deleted.
      await queues.submit(`l2-${p.l2NetworkUuid}`, () => ctx.flowEngine.run(createL3Chain, flowCtx, { resourceUuid: uuid }));
      const l3 = await load(uuid);
      await extensions.callSafe(L3NetworkLifecyclePoint, 'afterCreate', l3 as L3NetworkView);
      return l3;
    },

    async UpdateL3Network(msg: Message<ApiParams<typeof UpdateL3Network>>) {
      const p = msg.body;
      return queues.submit(l3Queue(p.uuid), () => patchRow(db, L3NetworkInventory, p.uuid, { name: p.name, description: p.description, system: p.system, dnsDomain: p.dnsDomain, category: p.category }));
    },

    async ChangeL3NetworkState(msg: Message<ApiParams<typeof ChangeL3NetworkState>>) {
      const p = msg.body;
      return queues.submit(l3Queue(p.uuid), () => patchRow(db, L3NetworkInventory, p.uuid, { state: stateAfter(p.stateEvent) }));
    },

    async DeleteL3Network(msg: Message<ApiParams<typeof DeleteL3Network>>) {
      const p = msg.body;
      if (!(await findRow(db, L3NetworkInventory, p.uuid))) return {};
      const mode = p.deleteMode ?? 'Permissive';
      const result = await cascade.delete({ resource: 'L3NetworkVO', uuids: [p.uuid], mode });
      if (result.errors.length && mode === 'Permissive') throw new StratoError(SysErrors.DELETE_RESOURCE_ERROR, `failed to delete L3 network ${p.uuid}`, { cause: result.errors[0].error });
      return {};
    },

    async AddIpRange(msg: Message<ApiParams<typeof AddIpRange>>) {
      const p = msg.body;
      const [range] = await insertRanges(p, [rangeFromAddresses(p)]);
      return range;
    },

    async AddIpRangeByNetworkCidr(msg: Message<ApiParams<typeof AddIpRangeByNetworkCidr>>) {
      const p = msg.body;
      const ranges = await insertRanges(p, rangesFromCidr(p.networkCidr, p.gateway));
      return { inventory: ranges[0], inventories: ranges };
    },

    async DeleteIpRange(msg: Message<ApiParams<typeof DeleteIpRange>>) {
      const range = await findRow(db, IpRangeInventory, msg.body.uuid);
      if (!range) return {};
      return queues.submit(l3Queue(range.l3NetworkUuid as string), async () => {
        // Its addresses are released with it (ZStack returns them to nobody: the range is gone).
        await db.deleteFrom('used_ip').where('ipRangeUuid', '=', msg.body.uuid).execute();
        await db.deleteFrom('ip_range').where('uuid', '=', msg.body.uuid).execute();
        await tags.deleteForResources([msg.body.uuid]);
        return {};
      });
    },

    async AddDnsToL3Network(msg: Message<ApiParams<typeof AddDnsToL3Network>>) {
      const p = msg.body;
      if (!isIpv4(p.dns)) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `DNS [${p.dns}] is not an IPv4 address`);
      return queues.submit(l3Queue(p.l3NetworkUuid), async () => {
        await load(p.l3NetworkUuid);
        const now = Date.now();
        try {
          await db.insertInto('l3_network_dns').values({ id: newUuid(), l3NetworkUuid: p.l3NetworkUuid, dns: p.dns, createDate: now, lastOpDate: now }).execute();
        } catch (e) {
          if (!isUniqueViolation(e)) throw e;
          throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `there has been a DNS [${p.dns}] on the L3 network ${p.l3NetworkUuid}`);
        }
        return load(p.l3NetworkUuid);
      });
    },

    async RemoveDnsFromL3Network(msg: Message<ApiParams<typeof RemoveDnsFromL3Network>>) {
      const p = msg.body;
      return queues.submit(l3Queue(p.l3NetworkUuid), async () => {
        await load(p.l3NetworkUuid);
        await db.deleteFrom('l3_network_dns').where('l3NetworkUuid', '=', p.l3NetworkUuid).where('dns', '=', p.dns).execute();
        return load(p.l3NetworkUuid);
      });
    },
  };
}

export function l3NotFound(uuid: string): StratoError {
  return notFound(L3NetworkInventory, uuid);
}
