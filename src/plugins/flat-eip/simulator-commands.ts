import { FlatEipAgentPaths, type EipTO } from '../../contracts/eip-agent.ts';
import { bandwidthProblem, NicQosAgentPaths, type NicQosCmd } from '../../contracts/nic-qos.ts';
import type { ServiceModule } from '../../core/node-context.ts';
import { simulatorFleetOf, type SimulatedAgent } from '../simulator/index.ts';

/** The EIPs a simulated host holds, by uuid: what a real host's namespaces would realize. */
export function eipsOf(agent: SimulatedAgent): Record<string, EipTO> {
  agent.state.eips ??= {};
  return agent.state.eips as Record<string, EipTO>;
}

/** The NIC limits a simulated host holds, by tap. */
export function nicQosOf(agent: SimulatedAgent): Record<string, { inboundBandwidth: number | null; outboundBandwidth: number | null }> {
  agent.state.nicQos ??= {};
  return agent.state.nicQos as Record<string, { inboundBandwidth: number | null; outboundBandwidth: number | null }>;
}

function checked(e: Partial<EipTO> | undefined): EipTO {
  for (const k of ['eipUuid', 'vip', 'vipNetmask', 'publicBridgeName', 'vmBridgeName', 'nicName', 'nicIp', 'nicMac', 'nicNetmask', 'nicGateway'] as const) {
    if (typeof e?.[k] !== 'string' || !e[k]) throw new Error(`bad EIP: ${k} is missing`);
  }
  return e as EipTO;
}

/** `/flatnetworkprovider/eip/*` and `/vm/setnicqos`, `/vm/getnicqos` on simulated hosts (load after the simulator plugin). */
export const simulatorFlatEipPlugin: ServiceModule = {
  id: 'simulator-flat-eip',
  setup(ctx) {
    const fleet = simulatorFleetOf(ctx);
    fleet.defineCommand('host', FlatEipAgentPaths.apply, (cmd: { eip?: Partial<EipTO> }, agent) => {
      const e = checked(cmd.eip);
      eipsOf(agent)[e.eipUuid] = e;
      return {};
    });
    fleet.defineCommand('host', FlatEipAgentPaths.batchApply, (cmd: { eips?: Partial<EipTO>[]; sync?: boolean }, agent) => {
      if (!Array.isArray(cmd.eips)) throw new Error('eips must be a list of EIPs');
      const list = cmd.eips.map(checked);
      const held = eipsOf(agent);
      const removed = cmd.sync ? Object.keys(held).filter((u) => !list.some((e) => e.eipUuid === u)) : [];
      for (const u of removed) delete held[u];
      for (const e of list) held[e.eipUuid] = e;
      return { applied: Object.keys(held).sort(), removed };
    });
    for (const path of [FlatEipAgentPaths.delete, FlatEipAgentPaths.batchDelete]) {
      fleet.defineCommand('host', path, (cmd: { eip?: { eipUuid?: string }; eips?: Array<{ eipUuid?: string }> }, agent) => {
        for (const e of cmd.eips ?? [cmd.eip]) delete eipsOf(agent)[String(e?.eipUuid)];
        return {};
      });
    }
    fleet.defineCommand('host', NicQosAgentPaths.set, (cmd: Partial<NicQosCmd>, agent) => {
      if (!cmd.internalName) throw new Error('internalName is missing');
      for (const k of ['inboundBandwidth', 'outboundBandwidth'] as const) {
        const problem = cmd[k] == null ? undefined : bandwidthProblem(k, cmd[k]);
        if (problem) throw new Error(problem);
      }
      const held = nicQosOf(agent);
      const now: { inboundBandwidth: number | null; outboundBandwidth: number | null } = held[cmd.internalName] ?? { inboundBandwidth: null, outboundBandwidth: null };
      if (cmd.inboundBandwidth !== undefined) now.inboundBandwidth = cmd.inboundBandwidth;
      if (cmd.outboundBandwidth !== undefined) now.outboundBandwidth = cmd.outboundBandwidth;
      held[cmd.internalName] = now;
      return { inboundBandwidth: now.inboundBandwidth ?? -1, outboundBandwidth: now.outboundBandwidth ?? -1 };
    });
    fleet.defineCommand('host', NicQosAgentPaths.get, (cmd: Partial<NicQosCmd>, agent) => {
      const q = nicQosOf(agent)[String(cmd.internalName)];
      return { inboundBandwidth: q?.inboundBandwidth ?? -1, outboundBandwidth: q?.outboundBandwidth ?? -1 };
    });
  },
};
