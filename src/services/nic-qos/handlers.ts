import type { Kysely } from 'kysely';
import { NicQosAgentPaths, type NicQosCmd } from '../../contracts/nic-qos.ts';
import type { ApiParams } from '../../core/api/define-api.ts';
import type { Message } from '../../core/bus/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import type { DeleteNicQos, GetNicQos, SetNicQos } from './apis.ts';
import { callHost } from './host-agent.ts';

export interface NicQos {
  inboundBandwidth: number | null;
  outboundBandwidth: number | null;
}

/** What the tap of a NIC carries: its VM, where it runs, its name. */
interface NicPlace {
  uuid: string;
  vmInstanceUuid: string;
  internalName: string;
  hostUuid: string | null;
  state: string;
}

/** States in which the VM's taps exist on its host and take a change live. */
export const LIVE_STATES = ['Running', 'Paused'];
/**
 * States on the way to running somewhere (or to Paused/Running in place): the `/vm/start` (or the
 * migration's destination, started from the source's spec) may already carry the old limits, and a
 * change is not sent now, so it is applied once the VM runs.
 */
const PASSING_STATES = ['Starting', 'Migrating', 'Rebooting', 'Pausing', 'Resuming', 'Unknown'];
const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

export async function qosOf(db: Kysely<any>, nicUuids: readonly string[]): Promise<Map<string, NicQos>> {
  if (nicUuids.length === 0) return new Map();
  const rows = await db.selectFrom('vm_nic_qos').selectAll().where('vmNicUuid', 'in', nicUuids).execute();
  return new Map(rows.map((r) => [r.vmNicUuid as string, { inboundBandwidth: num(r.inboundBandwidth), outboundBandwidth: num(r.outboundBandwidth) }]));
}

async function placeOf(db: Kysely<any>, nicUuid: string): Promise<NicPlace> {
  const nic = await db.selectFrom('vm_nic').innerJoin('vm_instance', 'vm_instance.uuid', 'vm_nic.vmInstanceUuid')
    .select(['vm_nic.uuid as uuid', 'vm_nic.vmInstanceUuid as vmInstanceUuid', 'vm_nic.internalName as internalName', 'vm_instance.hostUuid as hostUuid', 'vm_instance.state as state'])
    .where('vm_nic.uuid', '=', nicUuid).executeTakeFirst();
  if (!nic) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find VmNic[uuid:${nicUuid}]`);
  return nic as NicPlace;
}

/** The agent command putting `qos` (both directions: null removes) on the NIC's tap. */
export const setCommand = (nic: { uuid: string; vmInstanceUuid: string; internalName: string }, qos: NicQos): NicQosCmd => ({
  vmInstanceUuid: nic.vmInstanceUuid, nicUuid: nic.uuid, internalName: nic.internalName, inboundBandwidth: qos.inboundBandwidth, outboundBandwidth: qos.outboundBandwidth,
});

/**
 * SetNicQos, GetNicQos, DeleteNicQos. A change is recorded, then sent to the host when the VM runs:
 * an agent's refusal rolls the record back, so what is stored is what the host enforces (a stopped
 * VM's limits are applied by its next start, through the VM command decorator). A change while the VM
 * is starting or migrating is recorded and its NIC put in `pending`: the service sends it once the VM
 * is Running (index.ts), since the command that started it may have carried the old limits.
 */
export function nicQosHandlers(ctx: NodeContext, pending: Set<string> = new Set()) {
  const { db, queues } = ctx;
  const nicQueue = (uuid: string) => `nic-qos-${uuid}`;

  async function change(nicUuid: string, next: (old: NicQos) => NicQos): Promise<void> {
    await queues.submit(nicQueue(nicUuid), async () => {
      const nic = await placeOf(db, nicUuid);
      const old = (await qosOf(db, [nicUuid])).get(nicUuid) ?? { inboundBandwidth: null, outboundBandwidth: null };
      const want = next(old);
      await write(nicUuid, want);
      if (PASSING_STATES.includes(nic.state)) pending.add(nicUuid);
      if (!nic.hostUuid || !LIVE_STATES.includes(nic.state)) return;
      try {
        await callHost(ctx, nic.hostUuid, NicQosAgentPaths.set, { ...setCommand(nic, want) });
      } catch (e) {
        await write(nicUuid, old);
        throw new StratoError(SysErrors.OPERATION_ERROR, `the limits of vm nic[uuid:${nicUuid}] could not be set on host ${nic.hostUuid}`, { cause: e });
      }
    });
  }

  async function write(nicUuid: string, q: NicQos): Promise<void> {
    await db.deleteFrom('vm_nic_qos').where('vmNicUuid', '=', nicUuid).execute();
    if (q.inboundBandwidth !== null || q.outboundBandwidth !== null) await db.insertInto('vm_nic_qos').values({ vmNicUuid: nicUuid, ...q, lastOpDate: Date.now() }).execute();
  }

  return {
    async SetNicQos(msg: Message<ApiParams<typeof SetNicQos>>) {
      const p = msg.body;
      if (p.inboundBandwidth === undefined && p.outboundBandwidth === undefined) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, 'give outboundBandwidth and/or inboundBandwidth (bits per second)');
      await change(p.uuid, (old) => ({ inboundBandwidth: p.inboundBandwidth ?? old.inboundBandwidth, outboundBandwidth: p.outboundBandwidth ?? old.outboundBandwidth }));
      return {};
    },

    async DeleteNicQos(msg: Message<ApiParams<typeof DeleteNicQos>>) {
      const p = msg.body;
      if (!(await db.selectFrom('vm_nic').select('uuid').where('uuid', '=', p.uuid).executeTakeFirst())) return {}; // deleting what is gone succeeds
      await change(p.uuid, (old) => (p.direction === 'in' ? { ...old, inboundBandwidth: null } : { ...old, outboundBandwidth: null }));
      return {};
    },

    async GetNicQos(msg: Message<ApiParams<typeof GetNicQos>>) {
      const p = msg.body;
      const nic = await placeOf(db, p.uuid);
      let q = (await qosOf(db, [p.uuid])).get(p.uuid) ?? { inboundBandwidth: null, outboundBandwidth: null };
      if (p.forceSync && nic.hostUuid && LIVE_STATES.includes(nic.state)) {
        const r = await callHost<{ success: boolean; inboundBandwidth: number; outboundBandwidth: number }>(ctx, nic.hostUuid, NicQosAgentPaths.get, { internalName: nic.internalName });
        q = { inboundBandwidth: r.inboundBandwidth >= 0 ? r.inboundBandwidth : null, outboundBandwidth: r.outboundBandwidth >= 0 ? r.outboundBandwidth : null };
      }
      return { inboundBandwidth: q.inboundBandwidth ?? -1, outboundBandwidth: q.outboundBandwidth ?? -1, inboundBandwidthUpthreshold: -1, outboundBandwidthUpthreshold: -1 };
    },
  };
}
