import { FlatDhcpAgentPaths, VxlanAgentPaths, type ApplyDhcpCmd, type PrepareDhcpCmd, type ReleaseDhcpCmd } from '../../contracts/network-agent.ts';
import type { CommandRegistry } from '../command-registry.ts';
import { FlatDhcp } from './flat-dhcp.ts';
import { createVxlanBridge, deleteVxlanBridge, populateVxlanFdb } from './vxlan.ts';

/** The network commands of a KVM host: VXLAN L2 (VTEP, bridge, peers) and the flat network's DHCP. */
export function defineNetworkCommands(commands: CommandRegistry, dataDir: string): FlatDhcp {
  commands.define(VxlanAgentPaths.createBridge, createVxlanBridge);
  commands.define(VxlanAgentPaths.populateFdb, populateVxlanFdb);
  commands.define(VxlanAgentPaths.deleteBridge, deleteVxlanBridge);
  const dhcp = new FlatDhcp(dataDir);
  commands.define(FlatDhcpAgentPaths.prepare, (cmd: Partial<PrepareDhcpCmd>) => dhcp.prepare(cmd));
  commands.define(FlatDhcpAgentPaths.apply, (cmd: Partial<ApplyDhcpCmd>) => dhcp.apply(cmd));
  commands.define(FlatDhcpAgentPaths.release, (cmd: Partial<ReleaseDhcpCmd>) => dhcp.release(cmd));
  commands.define(FlatDhcpAgentPaths.deleteNamespace, (cmd: { l3NetworkUuid?: string }) => dhcp.deleteNamespace(cmd));
  return dhcp;
}
