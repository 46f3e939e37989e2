import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { join } from 'node:path';
import type { BatchApplyEipReply, EipTO } from '../../contracts/eip-agent.ts';
import { exec } from '../exec.ts';
import { writeFileAtomic } from '../files.ts';
import { KeyedQueue } from '../keyed-queue.ts';
import { ensureBridge } from './bridges.ts';
import { EBTABLES, ebtablesQueue } from './ebtables-queue.ts';

/** Inside an EIP's namespace: the public side (holds the VIP) and the private side (holds the NIC's gateway). */
const PUB = 'pub0';
const PRIV = 'priv0';
const UUID = /^[0-9A-Za-z-]{1,64}$/;
const IFACE = /^\w[\w.-]{0,14}$/; // never a leading "-": these become ip/ebtables arguments
const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/;
const linkExists = (name: string) => existsSync(`/sys/class/net/${name}`);

/** What an EIP is on this host: its command and the names made for it. Kept in `<data-dir>/eip/<eipUuid>.json`. */
interface EipState {
  eip: EipTO;
  namespace: string;
  pubOuter: string;
  privOuter: string;
  /** ebtables chain (nat and filter tables) confining the namespace's gateway role to this NIC. */
  chain: string;
  /**
   * The namespace's MACs, from the EIP alone: an EIP made again (agent restart, sync, the VM migrated
   * to another host) keeps the MACs the guest has for its gateway and the public network has for the VIP.
   */
  gatewayMac: string;
  vipMac: string;
}

/**
 * Flat EIPs on one host (ZStack's `deip` design, IPv4): per EIP a network namespace with two veths,
 * one in the public L2's bridge holding the VIP, one in the VM's bridge holding the NIC's gateway
 * address; iptables in the namespace DNATs the VIP to the NIC's address and SNATs the NIC's traffic to
 * the VIP. Only this NIC sees the namespace as its gateway: ebtables answers its ARP requests for the
 * gateway with the namespace's MAC, and no other ARP passes to or from the namespace's private veth,
 * so other guests of the L2 keep their real gateway and never learn of the namespace. Everything
 * lives in the namespace or in per-EIP ebtables chains: removing an EIP removes exactly what it made.
 */
export class FlatEip {
  readonly #dataDir: string;
  readonly #root: string;
  /** EIP commands run one at a time: a batch and a single apply of the same EIP never interleave. */
  readonly #queue = new KeyedQueue();

  constructor(dataDir: string) {
    this.#dataDir = dataDir;
    this.#root = join(dataDir, 'eip');
  }

  /** Names from this agent's data directory and the EIP: unique per host even when pretend hosts share a machine's namespace list. */
  names(eipUuid: string): Omit<EipState, 'eip'> {
    const h = createHash('sha1').update(`${this.#dataDir}\n${eipUuid}`).digest('hex');
    const m = createHash('sha1').update(eipUuid).digest('hex');
    const mac = (hex: string) => `02:${hex.match(/../g)!.join(':')}`;
    return { namespace: `strato-eip-${h.slice(0, 12)}`, pubOuter: `ep${h.slice(0, 12)}`, privOuter: `ev${h.slice(0, 12)}`, chain: `strato-eip-${h.slice(0, 12)}`, gatewayMac: mac(m.slice(0, 10)), vipMac: mac(m.slice(10, 20)) };
  }

  /** The EIPs applied on this host, by uuid. */
  applied(): string[] {
    if (!existsSync(this.#root)) return [];
    return readdirSync(this.#root).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
  }

  async apply(raw: unknown): Promise<{ eipUuid: string }> {
    const eip = checkEip(raw);
    await this.#queue.run('eip', () => this.#apply(eip));
    return { eipUuid: eip.eipUuid };
  }

  async delete(raw: unknown): Promise<Record<string, never>> {
    const eipUuid = checkUuid((raw as { eipUuid?: unknown } | undefined)?.eipUuid);
    await this.#queue.run('eip', () => this.#remove(eipUuid));
    return {};
  }

  /** Applies every EIP of the list (all checked first); with `sync`, removes the applied EIPs not in it. */
  async batchApply(raw: unknown, sync: boolean): Promise<BatchApplyEipReply> {
    if (!Array.isArray(raw)) throw new Error('eips must be a list of EIPs');
    const eips = raw.map(checkEip);
    const uuids = new Set(eips.map((e) => e.eipUuid));
    if (uuids.size !== eips.length) throw new Error('an EIP appears twice in eips');
    const vips = new Set(eips.map((e) => `${e.publicBridgeName}/${e.vip}`));
    if (vips.size !== eips.length) throw new Error('two EIPs of eips have the same VIP on one public bridge');
    return this.#queue.run('eip', async () => {
      const removed: string[] = [];
      if (sync) for (const stale of this.applied().filter((u) => !uuids.has(u))) {
        await this.#remove(stale);
        removed.push(stale);
      }
      // one EIP that cannot be made does not keep the others from being made
      const failed: string[] = [];
      for (const e of eips) await this.#apply(e).catch((err: unknown) => failed.push(`${e.eipUuid}: ${err instanceof Error ? err.message : String(err)}`));
      if (failed.length) throw new Error(`${failed.length} of ${eips.length} EIPs could not be applied: ${failed.join('; ')}`);
      return { applied: this.applied(), removed };
    });
  }

  async batchDelete(raw: unknown): Promise<Record<string, never>> {
    if (!Array.isArray(raw)) throw new Error('eips must be a list of {eipUuid}');
    const uuids = raw.map((e: { eipUuid?: unknown } | undefined) => checkUuid(e?.eipUuid));
    await this.#queue.run('eip', async () => {
      for (const u of uuids) await this.#remove(u);
    });
    return {};
  }

  #state(eipUuid: string): EipState | undefined {
    const f = join(this.#root, `${eipUuid}.json`);
    return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as EipState) : undefined;
  }

  /** Idempotent: the same EIP again only re-checks its pieces; a changed one (the VM moved NIC, a new VIP) is made afresh. */
  async #apply(eip: EipTO): Promise<void> {
    const old = this.#state(eip.eipUuid);
    if (old && JSON.stringify(old.eip) !== JSON.stringify(eip)) await this.#remove(eip.eipUuid);
    const other = this.applied().map((u) => this.#state(u)).find((s) => s && s.eip.eipUuid !== eip.eipUuid && s.eip.vip === eip.vip && s.eip.publicBridgeName === eip.publicBridgeName);
    if (other) throw new Error(`VIP ${eip.vip} is already applied on this host for EIP ${other.eip.eipUuid}`);
    // bridges named without their interface must exist; those with one are made (checked first: a refusal makes nothing)
    for (const [br, iface] of [[eip.publicBridgeName, eip.publicPhysicalInterface], [eip.vmBridgeName, eip.vmPhysicalInterface]] as const) {
      if (!linkExists(br) && !iface) throw new Error(`bridge ${br} does not exist on this host: realize its L2 network first`);
      if (!linkExists(br) && iface && !linkExists(iface) && !/\.\d+$/.test(iface)) throw new Error(`physical interface ${iface} of bridge ${br} does not exist on this host`);
    }
    if (eip.publicPhysicalInterface) await ensureBridge(eip.publicBridgeName, eip.publicPhysicalInterface);
    if (eip.vmPhysicalInterface) await ensureBridge(eip.vmBridgeName, eip.vmPhysicalInterface);
    const state: EipState = { eip, ...this.names(eip.eipUuid) };
    mkdirSync(this.#root, { recursive: true });
    // written first: a half-made EIP is still found, and removed, by delete or sync
    writeFileAtomic(join(this.#root, `${eip.eipUuid}.json`), JSON.stringify(state));
    try {
      await makeNamespace(state);
      await ebtablesQueue.run(EBTABLES, () => confineGateway(state));
    } catch (e) {
      await this.#remove(eip.eipUuid).catch(() => undefined);
      throw e;
    }
  }

  /** Removes what the EIP made; nothing there is success. */
  async #remove(eipUuid: string): Promise<void> {
    const s = this.#state(eipUuid) ?? { eip: undefined, ...this.names(eipUuid) };
    await ebtablesQueue.run(EBTABLES, () => unconfineGateway(s.chain));
    for (const link of [s.pubOuter, s.privOuter]) if (linkExists(link)) await exec('ip', ['link', 'del', link]).catch(() => undefined);
    if (existsSync(`/run/netns/${s.namespace}`)) await exec('ip', ['netns', 'del', s.namespace]);
    rmSync(join(this.#root, `${eipUuid}.json`), { force: true });
  }
}

async function makeNamespace(s: EipState): Promise<void> {
  const { eip, namespace: ns } = s;
  const inNs = (args: string[]) => exec('ip', ['netns', 'exec', ns, ...args]);
  if (!existsSync(`/run/netns/${ns}`)) await exec('ip', ['netns', 'add', ns]);
  await exec('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  // links made from now on announce their address when they come up (gratuitous ARP: the public side learns where the VIP is now)
  await inNs(['sysctl', '-qw', 'net.ipv4.conf.default.arp_notify=1']);
  // IPv4 only: no IPv6 chatter, and no link-local address (the MACs are the same on every host holding the EIP)
  await inNs(['sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=1']);
  await inNs(['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1']);
  for (const [outer, inner, bridge] of [[s.pubOuter, PUB, eip.publicBridgeName], [s.privOuter, PRIV, eip.vmBridgeName]] as const) {
    // an outer end whose inner end is gone (namespace deleted behind our back) is made again
    if (linkExists(outer) && !(await inNs(['ip', '-o', 'link']).then((o) => o.includes(` ${inner}@`)))) await exec('ip', ['link', 'del', outer]);
    if (!linkExists(outer)) await exec('ip', ['link', 'add', outer, 'type', 'veth', 'peer', 'name', inner, 'netns', ns]);
    await exec('ip', ['link', 'set', outer, 'master', bridge]);
    await exec('ip', ['link', 'set', outer, 'up']);
  }
  await exec('ip', ['-n', ns, 'link', 'set', PRIV, 'address', s.gatewayMac]);
  await exec('ip', ['-n', ns, 'link', 'set', PUB, 'address', s.vipMac]);
  await exec('ip', ['-n', ns, 'addr', 'replace', `${eip.vip}/${prefixOf(eip.vipNetmask)}`, 'dev', PUB]);
  await exec('ip', ['-n', ns, 'addr', 'replace', `${eip.nicGateway}/${prefixOf(eip.nicNetmask)}`, 'dev', PRIV]);
  await exec('ip', ['-n', ns, 'link', 'set', PUB, 'up']);
  await exec('ip', ['-n', ns, 'link', 'set', PRIV, 'up']);
  // the namespace never asks for the NIC's MAC (its ARP is cut off): it knows it
  await exec('ip', ['-n', ns, 'neigh', 'replace', eip.nicIp, 'lladdr', eip.nicMac, 'dev', PRIV, 'nud', 'permanent']);
  if (eip.vipGateway) await exec('ip', ['-n', ns, 'route', 'replace', 'default', 'via', eip.vipGateway, 'dev', PUB]);
  await inNs(['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  // the rules are rebuilt whole, so applying again never stacks duplicates
  const ipt = (args: string[]) => inNs(['iptables', '-w', ...args]);
  for (const table of ['nat', 'filter']) await ipt(['-t', table, '-F']);
  await ipt(['-t', 'nat', '-A', 'PREROUTING', '-i', PUB, '-d', `${eip.vip}/32`, '-j', 'DNAT', '--to-destination', eip.nicIp]);
  await ipt(['-t', 'nat', '-A', 'POSTROUTING', '-o', PUB, '-s', `${eip.nicIp}/32`, '-j', 'SNAT', '--to-source', eip.vip]);
  // the public side reaches the NIC's address only, and only the NIC's address leaves by the namespace
  await ipt(['-A', 'FORWARD', '-i', PUB, '!', '-d', `${eip.nicIp}/32`, '-j', 'DROP']);
  await ipt(['-A', 'FORWARD', '-i', PRIV, '!', '-s', `${eip.nicIp}/32`, '-j', 'DROP']);
  await announceVip(ns, eip.vip);
}

/**
 * A gratuitous ARP for the VIP from the namespace, on every apply: after the EIP moved hosts (applied
 * on the target while the source still answered, then removed there), switches and bridges still send
 * the VIP's MAC towards the source until something from the target passes them; the node re-applies
 * on the target once the source is cleared, and this frame is that something. busybox's arping (the
 * hosts have busybox-static); without it only `arp_notify` at link-up announces.
 */
async function announceVip(ns: string, vip: string): Promise<void> {
  await exec('ip', ['netns', 'exec', ns, 'busybox', 'arping', '-U', '-c', '1', '-I', PUB, vip], { timeoutMs: 5000 }).catch(() => undefined);
}

/**
 * The namespace holds the NIC's gateway address, which may be a real router's too: it answers only this
 * NIC, and is heard by no one else. nat: the tap's ARP requests for the gateway get the namespace's MAC
 * (and go no further). filter: no ARP enters or leaves the namespace's private veth, and the tap hears
 * no ARP claiming the gateway address from another MAC.
 */
async function confineGateway(s: EipState): Promise<void> {
  const { eip, chain } = s;
  await unconfineGateway(chain);
  await exec('ebtables', ['-t', 'nat', '-N', chain, '-P', 'RETURN']);
  await exec('ebtables', ['-t', 'nat', '-A', chain, '-p', 'ARP', '--arp-op', 'Request', '--arp-ip-dst', eip.nicGateway, '-j', 'arpreply', '--arpreply-mac', s.gatewayMac]);
  await exec('ebtables', ['-t', 'nat', '-A', 'PREROUTING', '-i', eip.nicName, '-j', chain]);
  await exec('ebtables', ['-N', chain, '-P', 'RETURN']);
  await exec('ebtables', ['-A', chain, '-i', s.privOuter, '-p', 'ARP', '-j', 'DROP']);
  await exec('ebtables', ['-A', chain, '-o', s.privOuter, '-p', 'ARP', '-j', 'DROP']);
  await exec('ebtables', ['-A', chain, '-o', eip.nicName, '-p', 'ARP', '--arp-ip-src', eip.nicGateway, '--arp-mac-src', '!', s.gatewayMac, '-j', 'DROP']);
  await exec('ebtables', ['-A', 'FORWARD', '-j', chain]);
}

async function unconfineGateway(chain: string): Promise<void> {
  for (const [table, hook] of [['nat', 'PREROUTING'], ['filter', 'FORWARD']] as const) {
    const all = await exec('ebtables', ['-t', table, '-L']);
    if (!all.includes(`Bridge chain: ${chain},`)) continue;
    for (const line of (await exec('ebtables', ['-t', table, '-L', hook])).split('\n')) {
      if (line.trim().endsWith(`-j ${chain}`)) await exec('ebtables', ['-t', table, '-D', hook, ...line.trim().split(/\s+/)]);
    }
    await exec('ebtables', ['-t', table, '-F', chain]); // nftables deletes only an empty chain
    await exec('ebtables', ['-t', table, '-X', chain]);
  }
}

function checkUuid(u: unknown): string {
  if (typeof u !== 'string' || !UUID.test(u)) throw new Error(`eipUuid is missing or malformed (got ${JSON.stringify(u) ?? 'nothing'})`);
  return u;
}

/** The EIP as this agent uses it, or a clear error naming every problem; nothing is touched before. */
function checkEip(raw: unknown): EipTO {
  const e = (raw ?? {}) as Partial<EipTO>;
  const problems: string[] = [];
  if (typeof e.eipUuid !== 'string' || !UUID.test(e.eipUuid)) problems.push('eipUuid is missing or malformed');
  for (const k of ['vip', 'nicIp', 'nicGateway'] as const) if (!isIPv4(String(e[k] ?? ''))) problems.push(`${k} must be an IPv4 address (got ${JSON.stringify(e[k]) ?? 'nothing'})`);
  if (e.vipGateway != null && !isIPv4(e.vipGateway)) problems.push(`vipGateway must be an IPv4 address or null (got ${JSON.stringify(e.vipGateway)})`);
  for (const k of ['vipNetmask', 'nicNetmask'] as const) if (maskProblem(e[k])) problems.push(`${k}: ${maskProblem(e[k])}`);
  for (const k of ['publicBridgeName', 'vmBridgeName', 'nicName'] as const) if (typeof e[k] !== 'string' || !IFACE.test(e[k])) problems.push(`${k} must be an interface name (got ${JSON.stringify(e[k]) ?? 'nothing'})`);
  for (const k of ['publicPhysicalInterface', 'vmPhysicalInterface'] as const) if (e[k] != null && (typeof e[k] !== 'string' || !IFACE.test(e[k]))) problems.push(`${k} must be an interface name`);
  if (!MAC.test(String(e.nicMac ?? '').toLowerCase())) problems.push(`nicMac must be a MAC address (got ${JSON.stringify(e.nicMac) ?? 'nothing'})`);
  if (!problems.length) {
    const nicPrefix = prefixOf(e.nicNetmask!);
    if (!sameSubnet(e.nicIp!, e.nicGateway!, nicPrefix)) problems.push(`nicGateway ${e.nicGateway} is not in the NIC's subnet ${e.nicIp}/${nicPrefix}`);
    if (e.nicIp === e.nicGateway) problems.push('nicIp and nicGateway are the same address');
    if (e.vipGateway && !sameSubnet(e.vip!, e.vipGateway, prefixOf(e.vipNetmask!))) problems.push(`vipGateway ${e.vipGateway} is not in the VIP's subnet`);
    if (e.publicBridgeName === e.vmBridgeName) problems.push('the public and the VM\'s bridge are the same: an EIP maps between two L2 networks');
  }
  if (problems.length) throw new Error(`bad EIP: ${problems.join('; ')}`);
  return {
    eipUuid: e.eipUuid!, vipUuid: e.vipUuid ?? null, vmUuid: e.vmUuid ?? null, vip: e.vip!, vipNetmask: e.vipNetmask!, vipGateway: e.vipGateway ?? null,
    publicBridgeName: e.publicBridgeName!, publicPhysicalInterface: e.publicPhysicalInterface ?? null, vmBridgeName: e.vmBridgeName!, vmPhysicalInterface: e.vmPhysicalInterface ?? null,
    nicName: e.nicName!, nicIp: e.nicIp!, nicMac: e.nicMac!.toLowerCase(), nicNetmask: e.nicNetmask!, nicGateway: e.nicGateway!,
  };
}

const toInt = (ip: string) => ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);

function maskProblem(mask: unknown): string | undefined {
  if (typeof mask !== 'string' || !isIPv4(mask)) return `must be a dotted netmask (got ${JSON.stringify(mask) ?? 'nothing'})`;
  if (!/^1*0*$/.test(toInt(mask).toString(2).padStart(32, '0'))) return `${mask} is not a netmask`;
  return undefined;
}

function prefixOf(mask: string): number {
  const bits = toInt(mask).toString(2).padStart(32, '0');
  return bits.indexOf('0') === -1 ? 32 : bits.indexOf('0');
}

function sameSubnet(a: string, b: string, prefix: number): boolean {
  const size = 2 ** (32 - prefix);
  return Math.floor(toInt(a) / size) === Math.floor(toInt(b) / size);
}
