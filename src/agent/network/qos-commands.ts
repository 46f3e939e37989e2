import { NicQosAgentPaths, type NicQosCmd, type NicQosFields } from '../../contracts/nic-qos.ts';
import type { CommandRegistry } from '../command-registry.ts';
import type { VmSupervisor } from '../vm/vm-supervisor.ts';
import { checkQosChange, readTapQos, removeTapQos, setTapQos, type TapQos, type TapQosChange } from './qos.ts';

const TAP = /^\w[\w.-]{0,14}$/; // never a leading "-": it becomes a tc/ip argument

function tapName(name: unknown): string {
  if (typeof name !== 'string' || !TAP.test(name)) throw new Error(`internalName must be the NIC's tap name (1-15 letters, digits, '.', '-', '_'; got ${JSON.stringify(name) ?? 'nothing'})`);
  return name;
}

const asReply = (q: TapQos) => ({ inboundBandwidth: q.inbound ?? -1, outboundBandwidth: q.outbound ?? -1 });

/**
 * `/vm/setnicqos` and `/vm/getnicqos`: a running NIC's limits, changed live. The VM's spec keeps them
 * too, so a migration's destination (which starts from the spec) and a VM restarted by the node with
 * the NIC fields (`applyNicQosOf`) shape the same way.
 */
export function defineNicQosCommands(commands: CommandRegistry, vms: VmSupervisor): void {
  commands.define(NicQosAgentPaths.set, async (cmd: Partial<NicQosCmd>) => {
    const tap = tapName(cmd.internalName);
    const change: TapQosChange = { inbound: cmd.inboundBandwidth, outbound: cmd.outboundBandwidth };
    checkQosChange(change);
    if (change.inbound === undefined && change.outbound === undefined) throw new Error('give inboundBandwidth and/or outboundBandwidth (a number of bits per second, or null to remove the limit)');
    const now = await setTapQos(tap, change);
    const vm = cmd.vmInstanceUuid ? vms.get(cmd.vmInstanceUuid) : undefined;
    const nic = vm?.spec.nics?.find((n) => (cmd.nicUuid && n.uuid === cmd.nicUuid) || n.internalName === tap) as (NicQosFields & { uuid: string }) | undefined;
    if (vm && nic) {
      if (change.inbound !== undefined) nic.inboundBandwidth = change.inbound;
      if (change.outbound !== undefined) nic.outboundBandwidth = change.outbound;
      vms.saveSpec(vm);
    }
    return asReply(now);
  });
  commands.define(NicQosAgentPaths.get, async (cmd: Partial<NicQosCmd>) => asReply(await readTapQos(tapName(cmd.internalName))));
}

/** The limits a NIC of `/vm/start` or `/vm/attachnic` carries, put on its new tap (nothing to do without them). */
export async function applyNicQosOf(tap: string, nicTO: object): Promise<void> {
  const nic = nicTO as NicQosFields;
  const change: TapQosChange = { inbound: nic.inboundBandwidth ?? undefined, outbound: nic.outboundBandwidth ?? undefined };
  if (change.inbound === undefined && change.outbound === undefined) return;
  await setTapQos(tap, change);
}

/** A tap going away takes its qdiscs along, but not its ifb device: that one is removed here. */
export async function releaseNicQosOf(tap: string): Promise<void> {
  await removeTapQos(tap);
}
