import { NetworkServiceProviderTypePoint } from '../../contracts/network.ts';
import type { ApiParams } from '../../core/api/define-api.ts';
import type { Message } from '../../core/bus/index.ts';
import type { CascadeEntry } from '../../core/cascade/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { findRow, loadInventory } from '../../core/resource/resource-store.ts';
import { newUuid } from '../../core/util/uuid.ts';
import type { AttachNetworkServiceToL3Network, DetachNetworkServiceFromL3Network } from './apis.ts';
import { NetworkServiceProviderInventory } from './schema.ts';
import { isUniqueViolation } from '../../core/db/unique-violation.ts';

/**
 * Attach and detach run in the L3 network's queue (`l3-<uuid>`, the l3-network service's queue
 * name): never interleaved with the L3 network's deletion on this node.
 */
const l3Queue = (uuid: string) => `l3-${uuid}`;

export function networkServiceHandlers(ctx: NodeContext) {
  const { db, queues, extensions } = ctx;
  const loadL3 = async (uuid: string) => {
    const row = await db.selectFrom('l3_network').select('uuid').where('uuid', '=', uuid).executeTakeFirst();
    if (!row) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find L3Network[uuid:${uuid}]`);
  };
  const l3Inventory = () => ctx.inventories.get('L3NetworkInventory');

  return {
    async AttachNetworkServiceToL3Network(msg: Message<ApiParams<typeof AttachNetworkServiceToL3Network>>) {
      const p = msg.body;
      return queues.submit(l3Queue(p.l3NetworkUuid), async () => {
        await loadL3(p.l3NetworkUuid);
        const wanted: Array<{ provider: string; type: string; backendType: string }> = [];
        for (const [providerUuid, types] of Object.entries(p.networkServices)) {
          const provider = await findRow(db, NetworkServiceProviderInventory, providerUuid);
          if (!provider) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find NetworkServiceProvider[uuid:${providerUuid}]`);
          const offered = new Set((await db.selectFrom('network_service_type').select('type').where('networkServiceProviderUuid', '=', providerUuid).execute()).map((r) => r.type as string));
          for (const t of types) {
            if (!offered.has(t)) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `the provider ${provider.type} does not offer the network service ${t}; it offers ${[...offered].join(', ')}`);
            wanted.push({ provider: providerUuid, type: t, backendType: provider.type as string });
          }
        }
        const existing = await db.selectFrom('network_service_l3_ref').select(['networkServiceProviderUuid', 'networkServiceType']).where('l3NetworkUuid', '=', p.l3NetworkUuid).execute();
        for (const w of wanted) {
          const clash = existing.find((e) => e.networkServiceType === w.type && e.networkServiceProviderUuid !== w.provider);
          if (clash) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `the L3 network ${p.l3NetworkUuid} already has the network service ${w.type} from provider ${clash.networkServiceProviderUuid}`);
        }
        const fresh = wanted.filter((w) => !existing.some((e) => e.networkServiceType === w.type));
        for (const backendType of new Set(fresh.map((w) => w.backendType))) {
          await extensions.strategy(NetworkServiceProviderTypePoint, backendType).attachToL3?.(p.l3NetworkUuid, fresh.filter((w) => w.backendType === backendType).map((w) => w.type));
        }
        const now = Date.now();
        for (const w of fresh) {
          try {
            await db.insertInto('network_service_l3_ref').values({ id: newUuid(), l3NetworkUuid: p.l3NetworkUuid, networkServiceProviderUuid: w.provider, networkServiceType: w.type, createDate: now, lastOpDate: now }).execute();
          } catch (e) {
            if (!isUniqueViolation(e)) throw e;
          }
        }
        return loadInventory(db, l3Inventory(), p.l3NetworkUuid);
      });
    },

    async DetachNetworkServiceFromL3Network(msg: Message<ApiParams<typeof DetachNetworkServiceFromL3Network>>) {
      const p = msg.body;
      return queues.submit(l3Queue(p.l3NetworkUuid), async () => {
        await loadL3(p.l3NetworkUuid);
        await detachRefs(ctx, p.l3NetworkUuid, p.service);
        return loadInventory(db, l3Inventory(), p.l3NetworkUuid);
      });
    },

    async GetNetworkServiceTypes() {
      const rows = await db.selectFrom('network_service_type as t').innerJoin('network_service_provider as p', 'p.uuid', 't.networkServiceProviderUuid').select(['t.type as service', 'p.type as provider']).execute();
      const out: Record<string, string[]> = {};
      for (const r of rows) (out[r.service as string] ??= []).push(r.provider as string);
      return { serviceAndProviderTypes: out };
    },
  };
}

async function detachRefs(ctx: NodeContext, l3NetworkUuid: string, service?: string): Promise<void> {
  const { db, extensions } = ctx;
  let q = db.selectFrom('network_service_l3_ref as r').innerJoin('network_service_provider as p', 'p.uuid', 'r.networkServiceProviderUuid').select(['r.id', 'r.networkServiceType', 'p.type']).where('r.l3NetworkUuid', '=', l3NetworkUuid);
  if (service) q = q.where('r.networkServiceType', '=', service);
  const refs = await q.execute();
  if (!refs.length) return;
  await db.deleteFrom('network_service_l3_ref').where('id', 'in', refs.map((r) => r.id)).execute();
  for (const type of new Set(refs.map((r) => r.type as string))) {
    try {
      await extensions.findStrategy(NetworkServiceProviderTypePoint, type)?.detachFromL3?.(l3NetworkUuid, refs.filter((r) => r.type === type).map((r) => r.networkServiceType as string));
    } catch (e) {
      ctx.log.warn({ err: e, l3NetworkUuid, provider: type }, 'a network service provider failed to detach; its refs are gone anyway');
    }
  }
}

/** The refs of an L3 network go with it. */
export function networkServiceRefCascadeEntry(ctx: NodeContext): CascadeEntry {
  const { db } = ctx;
  return {
    resource: 'NetworkServiceL3NetworkRefVO',
    parents: ['L3NetworkVO'],
    async children(_parent, l3Uuids) {
      return (await db.selectFrom('network_service_l3_ref').select('id').where('l3NetworkUuid', 'in', l3Uuids).execute()).map((r) => r.id as string);
    },
    async delete(ids) {
      const l3s = await db.selectFrom('network_service_l3_ref').select('l3NetworkUuid').distinct().where('id', 'in', ids).execute();
      for (const r of l3s) await detachRefs(ctx, r.l3NetworkUuid as string);
    },
  };
}
