import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { join } from 'node:path';
import type { ApplyDhcpCmd, DhcpInfo, PrepareDhcpCmd, ReleaseDhcpCmd } from '../../contracts/network-agent.ts';
import { exec } from '../exec.ts';
import { writeFileAtomic } from '../files.ts';
import { KeyedQueue } from '../keyed-queue.ts';
import { ensureBridge } from './bridges.ts';
import { EBTABLES, ebtablesQueue } from './ebtables-queue.ts';

/** What `prepare` made for an L3 network on this host, kept in `<data-dir>/dhcp/<l3>/state.json`. */
interface DhcpState {
  namespace: string;
  outer: string;
  bridgeName: string;
  dhcpServerIp: string;
  dhcpNetmask: string;
}

const INNER = 'inner0';
const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/;
const L3_UUID = /^[0-9A-Za-z-]{1,64}$/;
const linkExists = (name: string) => existsSync(`/sys/class/net/${name}`);

/**
 * The flat network provider's distributed DHCP on one host (ZStack's model): per L3 network, a
 * namespace joined to the L3's bridge by a veth, holding the DHCP server address, and a dnsmasq in it
 * answering only the static MAC→IP leases the node gave (IPAM's addresses, never a pool of its own).
 * Lease changes rewrite dnsmasq's hosts and options files and SIGHUP it, so it never restarts.
 */
export class FlatDhcp {
  readonly #root: string;
  readonly #dataDir: string;
  /** Commands on one L3 network never interleave. */
  readonly #queue = new KeyedQueue();

  constructor(dataDir: string) {
    this.#dataDir = dataDir;
    this.#root = join(dataDir, 'dhcp');
  }

  /**
   * Names are derived from this agent's data directory and the L3: unique per host even when several
   * pretend hosts share one machine's namespace list (`ip netns` names are machine-wide).
   */
  names(l3NetworkUuid: string): { namespace: string; outer: string } {
    const h = createHash('sha1').update(`${this.#dataDir}\n${l3NetworkUuid}`).digest('hex');
    return { namespace: `strato-dhcp-${h.slice(0, 12)}`, outer: `vd${h.slice(0, 12)}` };
  }

  /**
   * The namespace, and with `physicalInterface` the NoVlan/VLAN bridge it joins, made when missing; with
   * `dhcp` the leases applied too (one agent round trip where a VM start needed three: createbridge,
   * prepare, apply). Every argument is checked, and the lease set too, before anything changes.
   */
  async prepare(cmd: Partial<PrepareDhcpCmd>): Promise<{ namespaceName: string; leases: number }> {
    const l3 = checkL3(cmd.l3NetworkUuid);
    if (typeof cmd.bridgeName !== 'string' || !/^\w[\w.-]{0,14}$/.test(cmd.bridgeName)) throw new Error('bridgeName must be an interface name');
    if (!isIPv4(cmd.dhcpServerIp ?? '')) throw new Error('dhcpServerIp must be an IPv4 address');
    // an ebtables argument: an interface name only (a leading '-' would be read as an option)
    if (cmd.physicalInterface != null && (typeof cmd.physicalInterface !== 'string' || !/^[A-Za-z0-9_][\w.-]{0,14}$/.test(cmd.physicalInterface))) throw new Error('physicalInterface must be an interface name');
    const prefix = prefixOf(cmd.dhcpNetmask);
    const given = cmd.dhcp === undefined ? undefined : checkLeases(cmd.dhcp);
    const want = { bridgeName: cmd.bridgeName, dhcpServerIp: cmd.dhcpServerIp as string, dhcpNetmask: cmd.dhcpNetmask as string };
    return this.#queue.run(l3, async () => {
      const leases = given ? this.#merged(l3, given, cmd.rebuild === true) : this.#leases(l3);
      if (cmd.physicalInterface) await ensureBridge(want.bridgeName, cmd.physicalInterface);
      if (!linkExists(want.bridgeName)) throw new Error(`bridge ${want.bridgeName} does not exist on this host: realize the L2 network first`);
      const { namespace, outer } = this.names(l3);
      const dir = join(this.#root, l3);
      mkdirSync(dir, { recursive: true });
      const old = this.#state(l3);
      if (!(await namespaceExists(namespace))) {
        await exec('ip', ['netns', 'add', namespace]);
        await exec('ip', ['-n', namespace, 'link', 'set', 'lo', 'up']);
      }
      if (!linkExists(outer)) await exec('ip', ['link', 'add', outer, 'type', 'veth', 'peer', 'name', INNER, 'netns', namespace]);
      await exec('ip', ['link', 'set', outer, 'master', want.bridgeName]);
      await exec('ip', ['link', 'set', outer, 'up']);
      if (old && (old.dhcpServerIp !== want.dhcpServerIp || old.dhcpNetmask !== want.dhcpNetmask)) {
        await exec('ip', ['-n', namespace, 'addr', 'flush', 'dev', INNER]);
        await this.#stopDnsmasq(l3); // it serves the old range
      }
      await exec('ip', ['-n', namespace, 'addr', 'replace', `${want.dhcpServerIp}/${prefix}`, 'dev', INNER]);
      await exec('ip', ['-n', namespace, 'link', 'set', INNER, 'up']);
      await ebtablesQueue.run(EBTABLES, () => isolateFromUplinks(namespace, outer, cmd.physicalInterface));
      writeFileAtomic(join(dir, 'state.json'), JSON.stringify({ namespace, outer, ...want } satisfies DhcpState));
      this.#writeLeaseFiles(l3, leases);
      // a running dnsmasq re-reads the files on SIGHUP (never restarted); one that is not running starts with them
      if (given) await this.#reload(l3);
      else await this.#ensureDnsmasq(l3);
      return { namespaceName: namespace, leases: leases.size };
    });
  }

  async apply(cmd: Partial<ApplyDhcpCmd>): Promise<{ leases: number }> {
    const l3 = checkL3(cmd.l3NetworkUuid);
    const given = checkLeases(cmd.dhcp);
    return this.#queue.run(l3, async () => {
      if (!this.#state(l3)) throw new Error(`DHCP for L3 network ${l3} is not prepared on this host`);
      const leases = this.#merged(l3, given, cmd.rebuild === true);
      this.#writeLeaseFiles(l3, leases);
      await this.#reload(l3);
      return { leases: leases.size };
    });
  }

  async release(cmd: Partial<ReleaseDhcpCmd>): Promise<{ leases: number }> {
    const l3 = checkL3(cmd.l3NetworkUuid);
    if (!Array.isArray(cmd.dhcp)) throw new Error('dhcp must be a list of {mac}');
    const macs = cmd.dhcp.map((d) => String(d?.mac ?? '').toLowerCase());
    return this.#queue.run(l3, async () => {
      if (!this.#state(l3)) return { leases: 0 }; // nothing served here: released already
      const leases = this.#leases(l3);
      for (const m of macs) leases.delete(m);
      this.#writeLeaseFiles(l3, leases);
      await this.#reload(l3);
      return { leases: leases.size };
    });
  }

  /** Deletes the namespace of every L3 this agent serves that is not in `l3NetworkUuids` (the node's whole list). */
  async sync(cmd: { l3NetworkUuids?: unknown }): Promise<{ deleted: string[] }> {
    if (!Array.isArray(cmd.l3NetworkUuids)) throw new Error('l3NetworkUuids must be a list of L3 network uuids');
    const keep = new Set(cmd.l3NetworkUuids.map((u) => checkL3(u as string)));
    const here = existsSync(this.#root) ? readdirSync(this.#root).filter((d) => /^[0-9a-f]{32}$/.test(d)) : [];
    const deleted = here.filter((l3) => !keep.has(l3));
    for (const l3NetworkUuid of deleted) await this.deleteNamespace({ l3NetworkUuid });
    return { deleted };
  }

  /** Stops the L3's dnsmasq and removes its namespace, veth and files; nothing there is success. */
  async deleteNamespace(cmd: { l3NetworkUuid?: string }): Promise<Record<string, never>> {
    const l3 = checkL3(cmd.l3NetworkUuid);
    return this.#queue.run(l3, async () => {
      const { namespace, outer } = this.#state(l3) ?? this.names(l3);
      await this.#stopDnsmasq(l3);
      await ebtablesQueue.run(EBTABLES, () => removeIsolation(namespace));
      if (linkExists(outer)) await exec('ip', ['link', 'del', outer]);
      if (await namespaceExists(namespace)) await exec('ip', ['netns', 'del', namespace]);
      rmSync(join(this.#root, l3), { recursive: true, force: true });
      return {};
    });
  }

  /** The PID of the L3's dnsmasq when it runs (the pid file's process is a dnsmasq given this L3's files, not a reused PID). */
  dnsmasqPid(l3: string): number | undefined {
    const f = join(this.#root, l3, 'dnsmasq.pid');
    if (!existsSync(f)) return undefined;
    const pid = Number(readFileSync(f, 'utf8').trim());
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      return pid > 0 && argv.includes('dnsmasq') && argv.includes(`--pid-file=${f}`) ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  #state(l3: string): DhcpState | undefined {
    const f = join(this.#root, l3, 'state.json');
    return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as DhcpState) : undefined;
  }

  /** The L3's leases with `given` added or replacing theirs by MAC (or, with `rebuild`, only `given`); throws when two MACs would share an IP. */
  #merged(l3: string, given: readonly DhcpInfo[], rebuild: boolean): Map<string, DhcpInfo> {
    const leases = rebuild ? new Map<string, DhcpInfo>() : this.#leases(l3);
    for (const d of given) leases.set(d.mac, d);
    const byIp = new Map<string, string>();
    for (const d of leases.values()) {
      const other = byIp.get(d.ip);
      if (other) throw new Error(`IP ${d.ip} would be leased to both ${other} and ${d.mac}`);
      byIp.set(d.ip, d.mac);
    }
    return leases;
  }

  #leases(l3: string): Map<string, DhcpInfo> {
    const f = join(this.#root, l3, 'leases.json');
    const list = existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as DhcpInfo[]) : [];
    return new Map(list.map((d) => [d.mac, d]));
  }

  /** dnsmasq's `--dhcp-hostsfile` and `--dhcp-optsfile` (re-read on SIGHUP), one tag per NIC for its options. */
  #writeLeaseFiles(l3: string, leases: Map<string, DhcpInfo>): void {
    const dir = join(this.#root, l3);
    const list = [...leases.values()];
    const hosts: string[] = [];
    const opts: string[] = [];
    for (const d of list) {
      const tag = `nic${d.mac.replace(/:/g, '')}`;
      hosts.push([d.mac, `set:${tag}`, d.ip, ...(d.hostname ? [d.hostname] : []), 'infinite'].join(','));
      opts.push(`tag:${tag},option:netmask,${d.netmask}`);
      if (d.gateway) opts.push(`tag:${tag},option:router,${d.gateway}`);
      if (d.dns?.length) opts.push(`tag:${tag},option:dns-server,${d.dns.join(',')}`);
      if (d.mtu) opts.push(`tag:${tag},option:mtu,${d.mtu}`);
    }
    writeFileAtomic(join(dir, 'leases.json'), JSON.stringify(list));
    writeFileAtomic(join(dir, 'hosts'), hosts.map((l) => `${l}\n`).join(''));
    writeFileAtomic(join(dir, 'opts'), opts.map((l) => `${l}\n`).join(''));
  }

  async #reload(l3: string): Promise<void> {
    const pid = this.dnsmasqPid(l3);
    if (pid) process.kill(pid, 'SIGHUP');
    else await this.#ensureDnsmasq(l3);
  }

  async #ensureDnsmasq(l3: string): Promise<void> {
    if (this.dnsmasqPid(l3)) return;
    const s = this.#state(l3);
    if (!s) throw new Error(`DHCP for L3 network ${l3} is not prepared on this host`);
    const dir = join(this.#root, l3);
    // dnsmasq forks into the background once it has bound its socket, so the exec returning means it serves.
    await exec('ip', ['netns', 'exec', s.namespace, 'dnsmasq',
      '--conf-file=/dev/null', '--port=0', '--no-hosts', '--no-resolv', '--dhcp-authoritative',
      `--interface=${INNER}`, '--except-interface=lo', '--bind-interfaces',
      `--dhcp-range=${networkOf(s.dhcpServerIp, s.dhcpNetmask)},static,${s.dhcpNetmask},24h`,
      `--dhcp-hostsfile=${join(dir, 'hosts')}`, `--dhcp-optsfile=${join(dir, 'opts')}`,
      `--dhcp-leasefile=${join(dir, 'dnsmasq.leases')}`, `--pid-file=${join(dir, 'dnsmasq.pid')}`,
      '--log-dhcp', `--log-facility=${join(dir, 'dnsmasq.log')}`,
      // it re-reads the hosts file on SIGHUP after dropping privileges, and the agent's data directory is private to root
      '--user=root']);
  }

  async #stopDnsmasq(l3: string): Promise<void> {
    const pid = this.dnsmasqPid(l3);
    if (!pid) return;
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100 && this.dnsmasqPid(l3); i++) await new Promise((r) => setTimeout(r, 50));
    if (this.dnsmasqPid(l3)) {
      process.kill(pid, 'SIGKILL');
      // gone before the namespace it serves in is deleted (a zombie no longer counts: its argv is empty)
      for (let i = 0; i < 40 && this.dnsmasqPid(l3); i++) await new Promise((r) => setTimeout(r, 50));
    }
    rmSync(join(this.#root, l3, 'dnsmasq.pid'), { force: true });
  }
}

function checkL3(l3: unknown): string {
  if (typeof l3 !== 'string' || !L3_UUID.test(l3)) throw new Error('l3NetworkUuid is required');
  return l3;
}

function checkLeases(dhcp: unknown): DhcpInfo[] {
  if (!Array.isArray(dhcp)) throw new Error('dhcp must be a list of leases {mac, ip, netmask, gateway?, hostname?, dns?}');
  return dhcp.map((raw: Partial<DhcpInfo>) => {
    const mac = String(raw?.mac ?? '').toLowerCase();
    if (!MAC.test(mac)) throw new Error(`bad MAC address ${String(raw?.mac)}`);
    if (!isIPv4(raw.ip ?? '')) throw new Error(`bad IP address ${String(raw.ip)} for ${mac}`);
    prefixOf(raw.netmask);
    if (raw.gateway && !isIPv4(raw.gateway)) throw new Error(`bad gateway ${raw.gateway} for ${mac}`);
    if (raw.mtu != null && (!Number.isInteger(raw.mtu) || raw.mtu < 576 || raw.mtu > 9216)) throw new Error(`bad MTU ${String(raw.mtu)} for ${mac}`);
    const dns = raw.dns ?? [];
    if (!Array.isArray(dns) || !dns.every((d) => isIPv4(d))) throw new Error(`bad DNS servers for ${mac}`);
    // a hostname goes into dnsmasq's hosts file: only a DNS label, never a comma or newline
    const hostname = raw.hostname && /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(raw.hostname) ? raw.hostname : null;
    return { mac, ip: raw.ip as string, netmask: raw.netmask as string, gateway: raw.gateway ?? null, hostname, dns, mtu: raw.mtu ?? null };
  });
}

const toInt = (ip: string) => ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
const toIp = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');

/** The prefix length of a dotted netmask; throws for anything that is not one. */
function prefixOf(mask: unknown): number {
  if (typeof mask !== 'string' || !isIPv4(mask)) throw new Error(`bad netmask ${String(mask)}`);
  const bits = toInt(mask).toString(2).padStart(32, '0');
  if (!/^1*0*$/.test(bits)) throw new Error(`bad netmask ${mask}`);
  return bits.indexOf('0') === -1 ? 32 : bits.indexOf('0');
}

function networkOf(ip: string, mask: string): string {
  const prefix = prefixOf(mask);
  const size = 2 ** (32 - prefix);
  return toIp(Math.floor(toInt(ip) / size) * size);
}

/**
 * Every host's DHCP namespace of an L3 holds the same server address and serves only the guests of its
 * own host (ZStack's distributed DHCP): nothing may pass between it and the L2's uplinks (VTEPs, the
 * physical interface), or a guest would hear every host's dnsmasq and the server address would
 * conflict across hosts. An ebtables chain per L3 (named after its namespace) drops that traffic.
 */
async function isolateFromUplinks(namespace: string, outer: string, physicalInterface?: string | null): Promise<void> {
  const chain = namespace;
  const chains = await exec('ebtables', ['-L']);
  if (!chains.includes(`Bridge chain: ${chain},`)) await exec('ebtables', ['-N', chain, '-P', 'RETURN']);
  await exec('ebtables', ['-F', chain]);
  for (const uplink of ['vxlan+', ...(physicalInterface ? [physicalInterface] : [])]) {
    await exec('ebtables', ['-A', chain, '-i', outer, '-o', uplink, '-j', 'DROP']);
    await exec('ebtables', ['-A', chain, '-i', uplink, '-o', outer, '-j', 'DROP']);
  }
  const forward = await exec('ebtables', ['-L', 'FORWARD']);
  if (!forward.includes(`-j ${chain}`)) await exec('ebtables', ['-A', 'FORWARD', '-j', chain]);
}

async function removeIsolation(namespace: string): Promise<void> {
  const chains = await exec('ebtables', ['-L']);
  if (!chains.includes(`Bridge chain: ${namespace},`)) return;
  while ((await exec('ebtables', ['-L', 'FORWARD'])).includes(`-j ${namespace}`)) await exec('ebtables', ['-D', 'FORWARD', '-j', namespace]);
  await exec('ebtables', ['-F', namespace]); // nftables deletes only an empty chain
  await exec('ebtables', ['-X', namespace]);
}

async function namespaceExists(name: string): Promise<boolean> {
  return existsSync(`/run/netns/${name}`);
}
