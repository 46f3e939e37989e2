/**
 * NIC bandwidth limits (ZStack's SetNicQos / GetNicQos / DeleteNicQos). Directions are the VM's:
 * `inboundBandwidth` limits traffic into the VM (shaped on the tap's egress), `outboundBandwidth`
 * traffic from the VM (the tap's ingress, redirected to an ifb device and shaped there). Both in bits
 * per second; the bounds are ZStack's (8 kbit/s to 30 Gbit/s).
 */
export const NIC_QOS_MIN_BANDWIDTH = 8192;
export const NIC_QOS_MAX_BANDWIDTH = 32212254720;

export const NicQosAgentPaths = {
  /** `NicQosCmd`: sets the given directions (a number limits, null removes, absent leaves as is). */
  set: '/vm/setnicqos',
  /** `{internalName}` → `{inboundBandwidth, outboundBandwidth}` as the host's tc has them (-1: none). */
  get: '/vm/getnicqos',
} as const;

export interface NicQosCmd {
  /** When given and the VM runs here, its spec keeps the limits (a migration or agent restart keeps them). */
  vmInstanceUuid?: string | null;
  nicUuid?: string | null;
  /** The NIC's tap. */
  internalName: string;
  inboundBandwidth?: number | null;
  outboundBandwidth?: number | null;
}

/** What a NIC of `/vm/start` and `/vm/attachnic` may carry: the tap is limited before QEMU uses it. */
export interface NicQosFields {
  inboundBandwidth?: number | null;
  outboundBandwidth?: number | null;
}

/** Why a bandwidth is refused, or undefined when it is one (null/undefined are not bandwidths: the caller decides). */
export function bandwidthProblem(name: string, value: unknown): string | undefined {
  if (typeof value !== 'number' || !Number.isInteger(value)) return `${name} must be an integer number of bits per second (got ${JSON.stringify(value)})`;
  if (value < NIC_QOS_MIN_BANDWIDTH || value > NIC_QOS_MAX_BANDWIDTH) return `${name} must be between ${NIC_QOS_MIN_BANDWIDTH} and ${NIC_QOS_MAX_BANDWIDTH} bits per second (got ${value})`;
  return undefined;
}
