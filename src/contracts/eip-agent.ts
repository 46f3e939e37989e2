/**
 * What the node sends a KVM host to realize EIPs the flat network provider's way (ZStack's kvmagent
 * `deip` plugin paths): on the host where the VM runs, a namespace per EIP joined to the public L2's
 * bridge (holding the VIP) and to the VM's bridge (standing in as the NIC's gateway for that NIC alone)
 * DNATs the VIP to the NIC's address and SNATs the NIC's traffic to the VIP. docs/decisions.md
 * ("EIPs on KVM hosts") explains the design.
 */
export const FlatEipAgentPaths = {
  apply: '/flatnetworkprovider/eip/apply',
  delete: '/flatnetworkprovider/eip/delete',
  /** `{eips, sync?}`: with `sync: true` the list is the host's whole set and EIPs not in it are removed. */
  batchApply: '/flatnetworkprovider/eip/batchapply',
  batchDelete: '/flatnetworkprovider/eip/batchdelete',
} as const;

/** One EIP on one host (ZStack's EipTO, IPv4 only). */
export interface EipTO {
  eipUuid: string;
  vipUuid?: string | null;
  vmUuid?: string | null;
  /** The VIP's address, netmask and gateway on the public L3 network. */
  vip: string;
  vipNetmask: string;
  /** The public network's router: the namespace's default route (none: only the public subnet is reachable). */
  vipGateway?: string | null;
  /** The public L2's bridge on this host; made (NoVlan, enslaving `publicPhysicalInterface`) when missing and the interface is given. */
  publicBridgeName: string;
  publicPhysicalInterface?: string | null;
  /** The bridge the VM's tap is in; made (NoVlan) when missing and `vmPhysicalInterface` is given. */
  vmBridgeName: string;
  vmPhysicalInterface?: string | null;
  /** The NIC's tap (its internalName). */
  nicName: string;
  nicIp: string;
  nicMac: string;
  nicNetmask: string;
  /** The NIC's L3 gateway: the EIP's namespace answers for it to this NIC only (an EIP needs one). */
  nicGateway: string;
}

export interface ApplyEipCmd {
  eip: EipTO;
}

/** Only `eipUuid` is needed: the agent remembers what it made. */
export interface DeleteEipCmd {
  eip: Pick<EipTO, 'eipUuid'> & Partial<EipTO>;
}

export interface BatchApplyEipCmd {
  eips: EipTO[];
  /** The list is every EIP this host should have: the others it has are removed. */
  sync?: boolean;
}

export interface BatchDeleteEipCmd {
  eips: Array<Pick<EipTO, 'eipUuid'> & Partial<EipTO>>;
}

/** What `batchapply` answers: the EIPs now applied here, and those removed by `sync`. */
export interface BatchApplyEipReply {
  applied: string[];
  removed: string[];
}
