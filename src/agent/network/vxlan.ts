import { existsSync, readdirSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import type { CheckVxlanCidrCmd, CreateVxlanBridgeCmd, PopulateVxlanFdbCmd } from '../../contracts/network-agent.ts';
import { exec } from '../exec.ts';
import { KeyedQueue } from '../keyed-queue.ts';

/** Commands on one VNI never interleave (a populate racing a create would see half a VTEP). */
const vniQueue = new KeyedQueue();
const ALL_ZERO_MAC = '00:00:00:00:00:00';
const linkExists = (name: string) => existsSync(`/sys/class/net/${name}`);

/** ZStack's names: VTEP `vxlan<VNI>`, bridge `br_vx_<VNI>` (both fit 15 characters for 24-bit VNIs). */
export const vtepName = (vni: number) => `vxlan${vni}`;
export const vxlanBridgeName = (vni: number) => `br_vx_${vni}`;

function checkVni(vni: unknown): number {
  if (!Number.isInteger(vni) || (vni as number) < 1 || (vni as number) > 16_777_215) throw new Error(`vni must be an integer in 1..16777215, got ${String(vni)}`);
  return vni as number;
}

function checkPeers(peers: unknown): string[] {
  if (peers === undefined || peers === null) return [];
  if (!Array.isArray(peers) || !peers.every((p) => typeof p === 'string' && isIPv4(p))) throw new Error('peers must be a list of IPv4 addresses');
  return [...new Set(peers as string[])];
}

/**
 * Makes the VNI's VTEP on `vtepIp` (learning off: the node tells every peer, no multicast) and its
 * bridge, then sets the peers. Idempotent; a VTEP left with another local address is remade.
 */
export async function createVxlanBridge(cmd: Partial<CreateVxlanBridgeCmd>): Promise<{ bridgeName: string }> {
  const vni = checkVni(cmd.vni);
  if (typeof cmd.vtepIp !== 'string' || !isIPv4(cmd.vtepIp)) throw new Error('vtepIp must be this host\'s IPv4 underlay address');
  const peers = checkPeers(cmd.peers).filter((p) => p !== cmd.vtepIp);
  const dstport = cmd.dstport ?? 4789;
  if (!Number.isInteger(dstport) || dstport < 1 || dstport > 65535) throw new Error(`dstport must be a UDP port, got ${String(dstport)}`);
  const vtepIp = cmd.vtepIp;
  return vniQueue.run(String(vni), async () => {
    const vtep = vtepName(vni);
    const bridge = vxlanBridgeName(vni);
    await assertLocalAddress(vtepIp);
    if (linkExists(vtep) && (await vtepLocal(vtep)) !== vtepIp) await exec('ip', ['link', 'del', vtep]);
    if (!linkExists(vtep)) await exec('ip', ['link', 'add', vtep, 'type', 'vxlan', 'id', String(vni), 'local', vtepIp, 'dstport', String(dstport), 'nolearning']);
    if (!linkExists(bridge)) await exec('ip', ['link', 'add', bridge, 'type', 'bridge']);
    await exec('ip', ['link', 'set', vtep, 'master', bridge]);
    await exec('ip', ['link', 'set', vtep, 'up']);
    await exec('ip', ['link', 'set', bridge, 'up']);
    await setPeers(vtep, peers);
    return { bridgeName: bridge };
  });
}

/** The host's IPv4 address inside `cidr` (where its VTEPs of a pool go); the first one when several. */
export async function checkVxlanCidr(cmd: Partial<CheckVxlanCidrCmd>): Promise<{ vtepIp: string }> {
  const m = typeof cmd.cidr === 'string' ? /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(cmd.cidr) : null;
  if (!m || !isIPv4(m[1]) || Number(m[2]) > 32) throw new Error(`cidr must be an IPv4 CIDR like 192.168.100.0/24, got ${String(cmd.cidr)}`);
  const toLong = (ip: string) => ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  const bits = Number(m[2]);
  const block = 2 ** (32 - bits);
  const base = Math.floor(toLong(m[1]) / block);
  const addrs = JSON.parse(await exec('ip', ['-j', '-4', 'addr', 'show'])) as Array<{ addr_info: Array<{ local: string }> }>;
  const found = addrs.flatMap((a) => a.addr_info.map((x) => x.local)).find((ip) => Math.floor(toLong(ip) / block) === base);
  if (!found) throw new Error(`this host has no IPv4 address in the VTEP CIDR ${cmd.cidr}`);
  return { vtepIp: found };
}

/** Replaces the VNI's peer list: missing entries appended, entries of hosts no longer in it deleted. */
export async function populateVxlanFdb(cmd: Partial<PopulateVxlanFdbCmd>): Promise<{ peers: string[] }> {
  const vni = checkVni(cmd.vni);
  const peers = checkPeers(cmd.peers);
  return vniQueue.run(String(vni), async () => {
    const vtep = vtepName(vni);
    if (!linkExists(vtep)) throw new Error(`VXLAN ${vni} is not realized on this host (no ${vtep}): create its bridge first`);
    const local = await vtepLocal(vtep);
    await setPeers(vtep, peers.filter((p) => p !== local));
    return { peers: await currentPeers(vtep) };
  });
}

/**
 * Removes the VNI's bridge and VTEP when nothing else is in the bridge (a VM's tap, a DHCP veth):
 * a network still used on this host stays, and says so with `deleted: false`.
 */
export async function deleteVxlanBridge(cmd: { vni?: number }): Promise<{ deleted: boolean; users?: string[] }> {
  const vni = checkVni(cmd.vni);
  return vniQueue.run(String(vni), async () => {
    const vtep = vtepName(vni);
    const bridge = vxlanBridgeName(vni);
    const users = linkExists(bridge) ? readdirSync(`/sys/class/net/${bridge}/brif`).filter((p) => p !== vtep) : [];
    if (users.length) return { deleted: false, users };
    if (linkExists(vtep)) await exec('ip', ['link', 'del', vtep]);
    if (linkExists(bridge)) await exec('ip', ['link', 'del', bridge]);
    return { deleted: true };
  });
}

/** Removes the bridge and VTEP of every VNI not in `vnis` (unless something still uses it): the node's whole list. */
export async function syncVxlanBridges(cmd: { vnis?: unknown }): Promise<{ deleted: number[]; kept: number[] }> {
  if (!Array.isArray(cmd.vnis)) throw new Error('vnis must be a list of VNIs');
  const keep = new Set(cmd.vnis.map(checkVni));
  const here = readdirSync('/sys/class/net').map((n) => /^br_vx_(\d+)$/.exec(n)?.[1]).filter((v): v is string => !!v).map(Number);
  const deleted: number[] = [];
  const kept: number[] = [];
  for (const vni of here.filter((v) => !keep.has(v))) ((await deleteVxlanBridge({ vni })).deleted ? deleted : kept).push(vni);
  return { deleted, kept };
}

async function setPeers(vtep: string, peers: string[]): Promise<void> {
  const current = await currentPeers(vtep);
  for (const p of peers) if (!current.includes(p)) await exec('bridge', ['fdb', 'append', ALL_ZERO_MAC, 'dev', vtep, 'dst', p]);
  for (const p of current) if (!peers.includes(p)) await exec('bridge', ['fdb', 'del', ALL_ZERO_MAC, 'dev', vtep, 'dst', p]);
}

/** The VTEP's head-end replication list: its all-zero-MAC forwarding entries. */
export async function currentPeers(vtep: string): Promise<string[]> {
  const entries = JSON.parse(await exec('bridge', ['-j', 'fdb', 'show', 'dev', vtep])) as Array<{ mac: string; dst?: string }>;
  return entries.filter((e) => e.mac === ALL_ZERO_MAC && e.dst).map((e) => e.dst as string);
}

async function vtepLocal(vtep: string): Promise<string | undefined> {
  const [link] = JSON.parse(await exec('ip', ['-j', '-d', 'link', 'show', vtep])) as Array<{ linkinfo?: { info_data?: { local?: string } } }>;
  return link?.linkinfo?.info_data?.local;
}

/** A VTEP on an address the host does not have would send nothing anyone answers: fail before making it. */
async function assertLocalAddress(ip: string): Promise<void> {
  const addrs = JSON.parse(await exec('ip', ['-j', '-4', 'addr', 'show'])) as Array<{ addr_info: Array<{ local: string }> }>;
  if (!addrs.some((a) => a.addr_info.some((x) => x.local === ip))) throw new Error(`vtepIp ${ip} is not an address of this host`);
}
