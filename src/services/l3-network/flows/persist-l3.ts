import type { CreateL3NetworkCtx } from '../../../contracts/network.ts';
import type { FlowStep } from '../../../core/flow/index.ts';

/** Inserts the L3 row (Enabled, IPv4); rollback removes it. */
export const persistL3: FlowStep<CreateL3NetworkCtx> = {
  name: 'persist-l3',
  async run(ctx, env) {
    const now = Date.now();
    await env.services.db!.insertInto('l3_network').values({
      uuid: ctx.uuid, name: ctx.name, description: ctx.description ?? null, type: ctx.type, zoneUuid: ctx.zoneUuid!, l2NetworkUuid: ctx.l2NetworkUuid, state: 'Enabled',
      dnsDomain: ctx.dnsDomain ?? null, system: ctx.system, category: ctx.category, ipVersion: 4, enableIPAM: true, isolated: false, createDate: now, lastOpDate: now,
    }).execute();
    ctx.persisted = true;
  },
  async rollback(ctx, env) {
    await env.services.db!.deleteFrom('l3_network').where('uuid', '=', ctx.uuid).execute();
  },
};
