import { StratoError, SysErrors } from '../../core/errors/index.ts';

/**
 * IPv4 arithmetic for IP ranges and the IPAM. Addresses are unsigned 32-bit numbers (ZStack's
 * `ipInLong`). IPv6 ranges are not supported yet.
 */
const DOTTED = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIpv4(s: string): boolean {
  return DOTTED.test(s);
}

export function ipToLong(ip: string): number {
  if (!isIpv4(ip)) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `[${ip}] is not an IPv4 address`);
  return ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

export function longToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

/** The prefix length of a netmask, or an error when the mask's ones are not contiguous. */
export function netmaskToPrefix(netmask: string): number {
  const n = ipToLong(netmask);
  for (let prefix = 0; prefix <= 32; prefix++) if (prefixToNetmaskLong(prefix) === n) return prefix;
  throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `[${netmask}] is not a valid netmask`);
}

export function prefixToNetmaskLong(prefix: number): number {
  return prefix === 0 ? 0 : (2 ** 32 - 2 ** (32 - prefix));
}

export function networkOf(ipLong: number, prefix: number): number {
  return ipLong - (ipLong % 2 ** (32 - prefix));
}

export interface Cidr {
  network: number;
  prefix: number;
  netmask: string;
  /** The first and last host addresses (network and broadcast excluded below /31). */
  firstHost: number;
  lastHost: number;
}

export function parseCidr(cidr: string): Cidr {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(cidr);
  if (!m || !isIpv4(m[1]) || Number(m[2]) > 32) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `[${cidr}] is not an IPv4 CIDR (IPv6 is not supported)`);
  const prefix = Number(m[2]);
  const network = networkOf(ipToLong(m[1]), prefix);
  const size = 2 ** (32 - prefix);
  const firstHost = prefix >= 31 ? network : network + 1;
  const lastHost = prefix >= 31 ? network + size - 1 : network + size - 2;
  return { network, prefix, netmask: longToIp(prefixToNetmaskLong(prefix)), firstHost, lastHost };
}

/** `10.0.0.0/24`. */
export function cidrString(network: number, prefix: number): string {
  return `${longToIp(network)}/${prefix}`;
}
