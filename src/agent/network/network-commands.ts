import { FlatDhcpAgentPaths, NoVlanAgentPaths, VxlanAgentPaths, type ApplyDhcpCmd, type CreateNoVlanBridgeCmd, type PrepareDhcpCmd, type ReleaseDhcpCmd } from '../../contracts/network-agent.ts';
import type { CommandRegistry } from '../command-registry.ts';
import { FlatDhcp } from './flat-dhcp.ts';
import { defineSecurityGroupCommands } from './security-group.ts';
import { ensureBridge, noVlanBridgeName } from './bridges.ts';
import { checkVxlanCidr, createVxlanBridge, deleteVxlanBridge, populateVxlanFdb, syncVxlanBridges } from './vxlan.ts';

/** The network commands of a KVM host: VXLAN L2 (VTEP, bridge, peers), the flat network's DHCP and security groups. */
export function defineNetworkCommands(commands: CommandRegistry, dataDir: string): FlatDhcp {
  commands.define(VxlanAgentPaths.checkCidr, checkVxlanCidr);
  commands.define(VxlanAgentPaths.createBridge, createVxlanBridge);
  commands.define(NoVlanAgentPaths.createBridge, async (cmd: Partial<CreateNoVlanBridgeCmd>) => {
    const iface = cmd.physicalInterfaceName;
    if (typeof iface !== 'string' || !/^[A-Za-z0-9_.-]{1,15}$/.test(iface)) throw new Error(`physicalInterfaceName must be an interface name, got ${String(iface)}`);
    const bridgeName = cmd.bridgeName || noVlanBridgeName(iface);
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(bridgeName)) throw new Error(`bridgeName must be at most 15 characters of [A-Za-z0-9_.-], got ${bridgeName}`);
    await ensureBridge(bridgeName, iface);
    return { bridgeName };
  });
  commands.define(VxlanAgentPaths.populateFdb, populateVxlanFdb);
  commands.define(VxlanAgentPaths.deleteBridge, deleteVxlanBridge);
  commands.define(VxlanAgentPaths.sync, syncVxlanBridges);
  const dhcp = new FlatDhcp(dataDir);
  commands.define(FlatDhcpAgentPaths.prepare, (cmd: Partial<PrepareDhcpCmd>) => dhcp.prepare(cmd));
  commands.define(FlatDhcpAgentPaths.apply, (cmd: Partial<ApplyDhcpCmd>) => dhcp.apply(cmd));
  commands.define(FlatDhcpAgentPaths.release, (cmd: Partial<ReleaseDhcpCmd>) => dhcp.release(cmd));
  commands.define(FlatDhcpAgentPaths.deleteNamespace, (cmd: { l3NetworkUuid?: string }) => dhcp.deleteNamespace(cmd));
  commands.define(FlatDhcpAgentPaths.sync, (cmd: { l3NetworkUuids?: unknown }) => dhcp.sync(cmd));
  defineSecurityGroupCommands(commands);
  return dhcp;
}
