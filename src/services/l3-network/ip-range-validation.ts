import type { Kysely } from 'kysely';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import { cidrString, ipToLong, longToIp, netmaskToPrefix, networkOf, parseCidr } from './ipv4.ts';

/** An IP range ready to insert: validated, with its addresses as longs. IPv4 only. */
export interface NewIpRange {
  startIp: string;
  endIp: string;
  netmask: string;
  gateway: string;
  networkCidr: string;
  prefixLen: number;
  startIpInLong: number;
  endIpInLong: number;
}

const invalid = (msg: string) => new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, msg);

/**
 * AddIpRange's rules: IPv4 addresses, a contiguous netmask, start ≤ end inside one subnet and not
 * its network or broadcast address, a gateway in the subnet but outside the range (default: the
 * subnet's first host).
 */
export function rangeFromAddresses(p: { startIp: string; endIp: string; netmask: string; gateway?: string }): NewIpRange {
  const prefix = netmaskToPrefix(p.netmask);
  const start = ipToLong(p.startIp);
  const end = ipToLong(p.endIp);
  if (start > end) throw invalid(`startIp ${p.startIp} is greater than endIp ${p.endIp}`);
  const network = networkOf(start, prefix);
  if (networkOf(end, prefix) !== network) throw invalid(`startIp ${p.startIp} and endIp ${p.endIp} are not in one subnet of netmask ${p.netmask}`);
  const cidr = parseCidr(cidrString(network, prefix));
  if (start < cidr.firstHost || end > cidr.lastHost) throw invalid(`the range [${p.startIp}, ${p.endIp}] includes the network or broadcast address of ${cidrString(network, prefix)}`);
  const gateway = p.gateway ?? longToIp(cidr.firstHost);
  const gw = ipToLong(gateway);
  if (networkOf(gw, prefix) !== network) throw invalid(`the gateway ${gateway} is not in the subnet ${cidrString(network, prefix)}`);
  if (gw >= start && gw <= end) throw invalid(`the gateway ${gateway} can not be part of the range [${p.startIp}, ${p.endIp}]`);
  return { startIp: p.startIp, endIp: p.endIp, netmask: p.netmask, gateway, networkCidr: cidrString(network, prefix), prefixLen: prefix, startIpInLong: start, endIpInLong: end };
}

/** AddIpRangeByNetworkCidr: every host but the gateway; a gateway in the middle splits it in two ranges (as ZStack does). */
export function rangesFromCidr(networkCidr: string, gatewayIp?: string): NewIpRange[] {
  const c = parseCidr(networkCidr);
  if (c.lastHost - c.firstHost < 1) throw invalid(`${networkCidr} has no room for a gateway and an address`);
  const gw = gatewayIp === undefined ? c.firstHost : ipToLong(gatewayIp);
  if (gw < c.firstHost || gw > c.lastHost) throw invalid(`the gateway ${gatewayIp} is not a host address of ${networkCidr}`);
  const bounds: Array<[number, number]> = gw === c.firstHost ? [[c.firstHost + 1, c.lastHost]] : gw === c.lastHost ? [[c.firstHost, c.lastHost - 1]] : [[c.firstHost, gw - 1], [gw + 1, c.lastHost]];
  return bounds.map(([s, e]) => ({ startIp: longToIp(s), endIp: longToIp(e), netmask: c.netmask, gateway: longToIp(gw), networkCidr: cidrString(c.network, c.prefix), prefixLen: c.prefix, startIpInLong: s, endIpInLong: e }));
}

/** Ranges of one L3 network share its subnet and gateway and never overlap. */
export async function checkAgainstExisting(db: Kysely<any>, l3NetworkUuid: string, ranges: NewIpRange[]): Promise<void> {
  const existing = await db.selectFrom('ip_range').select(['uuid', 'startIp', 'endIp', 'startIpInLong', 'endIpInLong', 'networkCidr', 'gateway']).where('l3NetworkUuid', '=', l3NetworkUuid).execute();
  for (const r of ranges) {
    for (const e of existing) {
      if (e.networkCidr !== r.networkCidr || e.gateway !== r.gateway) throw invalid(`the L3 network ${l3NetworkUuid} already has ranges in ${e.networkCidr} with gateway ${e.gateway}; the new range is in ${r.networkCidr} with gateway ${r.gateway}`);
      if (r.startIpInLong <= Number(e.endIpInLong) && r.endIpInLong >= Number(e.startIpInLong)) throw invalid(`the range [${r.startIp}, ${r.endIp}] overlaps the range ${e.uuid} [${e.startIp}, ${e.endIp}]`);
    }
  }
}
