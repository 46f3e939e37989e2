/**
 * What the node sends a host agent to realize networks on it: VXLAN L2 networks (a VTEP and a bridge
 * per VNI, peers as unicast forwarding entries, no multicast) and the flat network provider's
 * distributed DHCP (a dnsmasq per L3 network in its own namespace on each host). Paths are ZStack's
 * (kvmagent `vxlan_plugin` and `dhcp`/`flat network` plugin).
 */
export const VxlanAgentPaths = {
  /** `{cidr}` → `{vtepIp}`: this host's address inside the pool's VTEP CIDR (ZStack's `/network/checkvxlancidr`). */
  checkCidr: '/network/checkvxlancidr',
  createBridge: '/network/vxlan/createbridge',
  populateFdb: '/network/vxlan/populatefdb',
  deleteBridge: '/network/vxlan/deletebridge',
  /** `{vnis}`: the VNIs this host realizes; every other `br_vx_<vni>` and its VTEP is removed when unused (reconciliation on connect). */
  sync: '/network/vxlan/sync',
} as const;

/** `{physicalInterfaceName, bridgeName?}` → `{bridgeName}`: the NoVlan bridge holding the interface (ZStack's path). */
export const NoVlanAgentPaths = {
  createBridge: '/network/l2novlan/createbridge',
} as const;

export const FlatDhcpAgentPaths = {
  prepare: '/flatnetworkprovider/dhcp/prepare',
  apply: '/flatnetworkprovider/dhcp/apply',
  release: '/flatnetworkprovider/dhcp/release',
  deleteNamespace: '/flatnetworkprovider/dhcp/deletenamespace',
  /** `{l3NetworkUuids}`: the L3s this host serves; every other DHCP namespace of this agent is deleted (reconciliation on connect). */
  sync: '/flatnetworkprovider/dhcp/sync',
} as const;

/** `/network/vxlan/createbridge`: idempotent; `peers` are the other hosts' VTEP addresses for this VNI. */
export interface CreateVxlanBridgeCmd {
  vni: number;
  /** This host's underlay address: the VTEP's source. */
  vtepIp: string;
  peers?: string[];
  /** UDP port, default 4789 (IANA). */
  dstport?: number;
}

/** `/network/checkvxlancidr`: fails when the host has no IPv4 address inside `cidr`. */
export interface CheckVxlanCidrCmd {
  cidr: string;
}

/** `/network/l2novlan/createbridge`: idempotent; the interface's addresses move to the bridge. */
export interface CreateNoVlanBridgeCmd {
  physicalInterfaceName: string;
  bridgeName?: string;
}

/** `/network/vxlan/populatefdb`: the complete peer list of a VNI on this host (entries not in it are removed). */
export interface PopulateVxlanFdbCmd {
  vni: number;
  peers: string[];
}

/** `/network/vxlan/deletebridge`: removes the VNI's bridge and VTEP unless a tap or veth still uses it (`deleted: false`). */
export interface DeleteVxlanBridgeCmd {
  vni: number;
}

/**
 * `/flatnetworkprovider/dhcp/prepare`: the L3's DHCP namespace joined to its bridge, holding the DHCP server
 * address. One command does what a VM's NIC needs on the host (ZStack's flat DHCP `batchApply`): with
 * `physicalInterface` the NoVlan/VLAN bridge is made first (as `/network/l2novlan/createbridge`), and `dhcp`
 * leases are applied as by `/flatnetworkprovider/dhcp/apply` (`rebuild` makes them the whole set).
 */
export interface PrepareDhcpCmd {
  l3NetworkUuid: string;
  bridgeName: string;
  dhcpServerIp: string;
  /** Dotted netmask of the L3's IP range, e.g. 255.255.255.0. */
  dhcpNetmask: string;
  /**
   * The L2's physical interface (NoVlan/VLAN): its bridge `bridgeName` is made holding it when missing, and,
   * like a VTEP, it is an uplink the DHCP namespace is cut off from. Absent for VXLAN (its follower makes the bridge).
   */
  physicalInterface?: string | null;
  /** Leases to add or replace (by MAC) once the namespace is ready; absent: the leases held stay as they are. */
  dhcp?: DhcpInfo[];
  /** With `dhcp`: those are the whole lease set (stale ones dropped), as `apply` with `rebuild`. */
  rebuild?: boolean;
}

/** One NIC's static lease, from IPAM. */
export interface DhcpInfo {
  mac: string;
  ip: string;
  netmask: string;
  gateway?: string | null;
  hostname?: string | null;
  dns?: string[];
  /** DHCP option 26: a VXLAN L3 gives 1450 (the 50 bytes of VXLAN headers under a 1500 underlay). */
  mtu?: number | null;
}

/** `/flatnetworkprovider/dhcp/apply`: adds or replaces leases (by MAC); `rebuild` makes `dhcp` the whole set. */
export interface ApplyDhcpCmd {
  l3NetworkUuid: string;
  dhcp: DhcpInfo[];
  rebuild?: boolean;
}

/** `/flatnetworkprovider/dhcp/release`: forgets the leases of these MACs. */
export interface ReleaseDhcpCmd {
  l3NetworkUuid: string;
  dhcp: Array<Pick<DhcpInfo, 'mac'>>;
}

/** `/flatnetworkprovider/dhcp/sync`: answers the L3s whose namespaces were deleted. */
export interface SyncDhcpCmd {
  l3NetworkUuids: string[];
}

/** `/flatnetworkprovider/dhcp/deletenamespace`: stops the L3's dnsmasq and removes its namespace and veth. */
export interface DeleteDhcpNamespaceCmd {
  l3NetworkUuid: string;
}
