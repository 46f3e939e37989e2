import { FlatDhcpAgentPaths, NoVlanAgentPaths, VxlanAgentPaths, type ApplyDhcpCmd, type CreateVxlanBridgeCmd, type PrepareDhcpCmd } from '../../contracts/network-agent.ts';
import type { SimulatedAgent, SimulatorFleet } from '../simulator/index.ts';

/** What a simulated host holds of the networks the node realized on it (as the real agent would). */
export interface SimulatedNetworks {
  /** VNI → its VTEP's address and peers (head-end replication list). */
  vxlan: Record<string, { vtepIp: string; peers: string[] }>;
  /** NoVlan/VLAN bridges made by `/network/l2novlan/createbridge`. */
  bridges: string[];
  /** L3 uuid → its DHCP namespace: bridge, server address, leases MAC → IP. */
  dhcp: Record<string, { bridgeName: string; dhcpServerIp: string; leases: Record<string, string> }>;
  /** Extra addresses the host has besides its management address (for `/network/checkvxlancidr`). */
  addresses: string[];
}

export function networksOf(agent: SimulatedAgent): SimulatedNetworks {
  agent.state.networks ??= { vxlan: {}, bridges: [], dhcp: {}, addresses: [] };
  return agent.state.networks as SimulatedNetworks;
}

const toLong = (ip: string) => ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
const inCidr = (ip: string, cidr: string) => {
  const [base, bits] = cidr.split('/');
  const block = 2 ** (32 - Number(bits));
  return Math.floor(toLong(ip) / block) === Math.floor(toLong(base) / block);
};

/** The VXLAN, NoVlan bridge and flat DHCP commands of a simulated host, with the real agent's checks. */
export function defineNetworkCommands(fleet: SimulatorFleet): void {
  fleet.defineCommand('host', VxlanAgentPaths.checkCidr, (cmd: { cidr?: string }, agent) => {
    const found = networksOf(agent).addresses.find((a) => cmd.cidr && inCidr(a, cmd.cidr));
    if (!found) throw new Error(`this host has no IPv4 address in the VTEP CIDR ${String(cmd.cidr)}`);
    return { vtepIp: found };
  });
  fleet.defineCommand('host', VxlanAgentPaths.createBridge, (cmd: CreateVxlanBridgeCmd, agent) => {
    if (!Number.isInteger(cmd.vni) || !cmd.vtepIp) throw new Error('vni and vtepIp are required');
    networksOf(agent).vxlan[String(cmd.vni)] = { vtepIp: cmd.vtepIp, peers: [...new Set(cmd.peers ?? [])].filter((p) => p !== cmd.vtepIp).sort() };
    return { bridgeName: `br_vx_${cmd.vni}` };
  });
  fleet.defineCommand('host', VxlanAgentPaths.populateFdb, (cmd: { vni: number; peers: string[] }, agent) => {
    const v = networksOf(agent).vxlan[String(cmd.vni)];
    if (!v) throw new Error(`VXLAN ${cmd.vni} is not realized on this host: create its bridge first`);
    v.peers = [...new Set(cmd.peers)].filter((p) => p !== v.vtepIp).sort();
    return { peers: v.peers };
  });
  fleet.defineCommand('host', VxlanAgentPaths.deleteBridge, (cmd: { vni: number }, agent) => {
    const n = networksOf(agent);
    const users = Object.entries(n.dhcp).filter(([, d]) => d.bridgeName === `br_vx_${cmd.vni}`).map(([l3]) => l3);
    if (users.length) return { deleted: false, users };
    delete n.vxlan[String(cmd.vni)];
    return { deleted: true };
  });
  fleet.defineCommand('host', VxlanAgentPaths.sync, (cmd: { vnis: number[] }, agent) => {
    const n = networksOf(agent);
    const deleted = Object.keys(n.vxlan).map(Number).filter((vni) => !cmd.vnis.includes(vni) && !Object.values(n.dhcp).some((d) => d.bridgeName === `br_vx_${vni}`));
    for (const vni of deleted) delete n.vxlan[String(vni)];
    return { deleted };
  });
  const ensureBridge = (agent: SimulatedAgent, physicalInterface: string, bridgeName?: string) => {
    const bridge = bridgeName ?? `br_${physicalInterface.replace(/\./g, '_')}`;
    const n = networksOf(agent);
    if (!n.bridges.includes(bridge)) n.bridges.push(bridge);
    return bridge;
  };
  fleet.defineCommand('host', NoVlanAgentPaths.createBridge, (cmd: { physicalInterfaceName?: string; bridgeName?: string }, agent) => {
    if (!cmd.physicalInterfaceName) throw new Error('physicalInterfaceName is required');
    return { bridgeName: ensureBridge(agent, cmd.physicalInterfaceName, cmd.bridgeName) };
  });
  /** The lease set after adding `given` (or only `given` with `rebuild`); the real agent refuses an IP leased to two MACs. */
  const merged = (held: Record<string, string>, given: ApplyDhcpCmd['dhcp'], rebuild?: boolean) => {
    const leases = rebuild ? {} : { ...held };
    for (const l of given) leases[l.mac] = l.ip;
    const ips = Object.values(leases);
    if (new Set(ips).size !== ips.length) throw new Error('an IP is given to two MACs');
    return leases;
  };
  // As the real agent: the bridge made when told the physical interface, and the leases applied, in one command.
  fleet.defineCommand('host', FlatDhcpAgentPaths.prepare, (cmd: PrepareDhcpCmd, agent) => {
    const n = networksOf(agent);
    const d = n.dhcp[cmd.l3NetworkUuid];
    const leases = cmd.dhcp ? merged(d?.leases ?? {}, cmd.dhcp, cmd.rebuild) : d?.leases ?? {};
    if (cmd.physicalInterface) ensureBridge(agent, cmd.physicalInterface, cmd.bridgeName);
    const exists = n.bridges.includes(cmd.bridgeName) || Object.keys(n.vxlan).some((vni) => `br_vx_${vni}` === cmd.bridgeName);
    if (!exists) throw new Error(`bridge ${cmd.bridgeName} does not exist on this host`);
    n.dhcp[cmd.l3NetworkUuid] = { bridgeName: cmd.bridgeName, dhcpServerIp: cmd.dhcpServerIp, leases };
    return {};
  });
  fleet.defineCommand('host', FlatDhcpAgentPaths.apply, (cmd: ApplyDhcpCmd, agent) => {
    const d = networksOf(agent).dhcp[cmd.l3NetworkUuid];
    if (!d) throw new Error(`no DHCP namespace for L3 ${cmd.l3NetworkUuid}: prepare it first`);
    d.leases = merged(d.leases, cmd.dhcp, cmd.rebuild);
    return {};
  });
  fleet.defineCommand('host', FlatDhcpAgentPaths.release, (cmd: { l3NetworkUuid: string; dhcp: Array<{ mac: string }> }, agent) => {
    const d = networksOf(agent).dhcp[cmd.l3NetworkUuid];
    for (const l of cmd.dhcp) if (d) delete d.leases[l.mac];
    return {};
  });
  fleet.defineCommand('host', FlatDhcpAgentPaths.sync, (cmd: { l3NetworkUuids: string[] }, agent) => {
    const n = networksOf(agent);
    const deleted = Object.keys(n.dhcp).filter((l3) => !cmd.l3NetworkUuids.includes(l3));
    for (const l3 of deleted) delete n.dhcp[l3];
    return { deleted };
  });
  fleet.defineCommand('host', FlatDhcpAgentPaths.deleteNamespace, (cmd: { l3NetworkUuid: string }, agent) => {
    delete networksOf(agent).dhcp[cmd.l3NetworkUuid];
    return {};
  });
}
