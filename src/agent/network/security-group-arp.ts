import { isIPv4 } from 'node:net';
import type { NicRuleSet } from './security-group-rules.ts';

/**
 * The layer-2 half of a member NIC's anti-spoofing (pure, like security-group-rules.ts): iptables sees
 * only IP packets, so frames from the NIC's tap go through an ebtables chain `sga-<tap>` (filter table,
 * jumped to from INPUT and FORWARD by `-i <tap>`): any frame with another source MAC is dropped, and
 * ARP only with the NIC's MAC and one of its IPs as sender (or 0.0.0.0, an address probe). A VM then
 * cannot take another's address by ARP nor pollute the bridge's MAC table. VLAN-tagged frames from the
 * NIC are dropped too (br_netfilter hands iptables only untagged IP).
 */
const ARP_CHAIN = /^sga-(.+)$/;
export const arpChain = (tap: string) => `sga-${tap}`;
const jumps = (tap: string) => [`-A INPUT -i ${tap} -j ${arpChain(tap)}`, `-A FORWARD -i ${tap} -j ${arpChain(tap)}`];

export interface ArpState {
  taps: Set<string>;
  /** Rule lines as `ebtables-save` prints them. */
  lines: Set<string>;
}

export function parseEbtablesSave(text: string): ArpState {
  const lines = new Set(text.split('\n').map((l) => l.trim()).filter(Boolean));
  const taps = new Set<string>();
  for (const l of lines) {
    const m = /^:(\S+) /.exec(l);
    const tap = m ? ARP_CHAIN.exec(m[1])?.[1] : undefined;
    if (tap) taps.add(tap);
  }
  return { taps, lines };
}

/** One `ebtables-restore --noflush` transaction: chains of `build` rebuilt (declaring flushes), those of `remove` gone. */
export function arpScript(state: ArpState, build: readonly NicRuleSet[], remove: readonly string[]): string {
  const rebuilt = new Set(build.map((n) => n.tap));
  const out = ['*filter'];
  for (const n of build) out.push(`:${arpChain(n.tap)} RETURN`);
  for (const n of build) {
    const c = arpChain(n.tap);
    out.push(`-A ${c} -s ! ${n.mac} -j DROP`);
    // iptables does not look inside 802.1Q frames: a tagged frame from the VM would pass its chains unfiltered
    out.push(`-A ${c} -p 802_1Q -j DROP`);
    for (const ip of [...n.ips.filter((a) => isIPv4(a)), '0.0.0.0']) out.push(`-A ${c} -p ARP --arp-ip-src ${ip} --arp-mac-src ${n.mac} -j RETURN`);
    out.push(`-A ${c} -p ARP -j DROP`);
    for (const j of jumps(n.tap)) if (!state.lines.has(j)) out.push(j.replace(/^-A (\w+)/, '-I $1 1'));
  }
  for (const t of remove) {
    if (!state.taps.has(t) || rebuilt.has(t)) continue;
    for (const j of jumps(t)) if (state.lines.has(j)) out.push(j.replace(/^-A/, '-D'));
    out.push(`-F ${arpChain(t)}`, `-X ${arpChain(t)}`);
  }
  out.push('COMMIT', '');
  return out.join('\n');
}
