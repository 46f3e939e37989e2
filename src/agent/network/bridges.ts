import { existsSync } from 'node:fs';
import { exec } from '../exec.ts';
import { KeyedQueue } from '../keyed-queue.ts';
import { ovsSwitch, vlanDriver } from './vlan-driver.ts';

/** Two VMs starting at once on one bridge must not both move the interface's addresses. */
const bridgeQueue = new KeyedQueue();

/** What the node tells about a NIC's network (see README: "what the agent expects"). */
export interface NicNetwork {
  /** The bridge to plug the tap into; default `br_<physicalInterface>` (ZStack's NoVlan naming). */
  bridgeName?: string | null;
  physicalInterface?: string | null;
}

const linkExists = (name: string) => existsSync(`/sys/class/net/${name}`);

/** ZStack's name for a NoVlan bridge: `br_` + the interface, dots made underscores (`eth0.10` → `br_eth0_10`). */
export function noVlanBridgeName(physicalInterface: string): string {
  return `br_${physicalInterface.replace(/\./g, '_')}`.slice(0, 15);
}

/** The bridge a NIC goes into, or undefined when the node gave no network for it. */
export function bridgeOf(nic: NicNetwork): string | undefined {
  return nic.bridgeName || (nic.physicalInterface ? noVlanBridgeName(nic.physicalInterface) : undefined);
}

/**
 * Makes sure the NoVlan bridge exists and holds its physical interface (idempotent, as ZStack's
 * `/network/l2novlan/createbridge`). Addresses and the default route on the interface move to the
 * bridge, so a host whose management address sits on that interface stays reachable.
 */
export function ensureBridge(bridge: string, physicalInterface?: string | null): Promise<void> {
  return bridgeQueue.run(bridge, () => makeBridge(bridge, physicalInterface));
}

async function makeBridge(bridge: string, physicalInterface?: string | null): Promise<void> {
  if (physicalInterface && !linkExists(physicalInterface)) await makeVlanDevice(physicalInterface);
  if (!linkExists(bridge)) {
    await exec('ip', ['link', 'add', bridge, 'type', 'bridge']).catch((e: unknown) => {
      if (!linkExists(bridge)) throw e; // a concurrent start made it
    });
  }
  await exec('ip', ['link', 'set', bridge, 'up']);
  if (!physicalInterface) return;
  const master = existsSync(`/sys/class/net/${physicalInterface}/master`) ? await exec('readlink', ['-f', `/sys/class/net/${physicalInterface}/master`]) : '';
  if (master.trim().endsWith(`/${bridge}`)) return;
  const addrs = JSON.parse(await exec('ip', ['-j', '-4', 'addr', 'show', 'dev', physicalInterface])) as Array<{ addr_info: Array<{ local: string; prefixlen: number }> }>;
  const routes = JSON.parse(await exec('ip', ['-j', '-4', 'route', 'show', 'default', 'dev', physicalInterface])) as Array<{ gateway?: string }>;
  await exec('ip', ['link', 'set', physicalInterface, 'master', bridge]);
  await exec('ip', ['link', 'set', physicalInterface, 'up']);
  for (const a of addrs.flatMap((x) => x.addr_info)) {
    await exec('ip', ['addr', 'del', `${a.local}/${a.prefixlen}`, 'dev', physicalInterface]);
    await exec('ip', ['addr', 'add', `${a.local}/${a.prefixlen}`, 'dev', bridge]);
  }
  for (const r of routes) if (r.gateway) await exec('ip', ['route', 'replace', 'default', 'via', r.gateway, 'dev', bridge]);
}

/**
 * A VLAN network's device `<iface>.<vid>` (ZStack's L2VlanNetwork bridges on it), made when missing:
 * an 802.1Q device, or on a host without 802.1Q an access port of the agent's Open vSwitch with the
 * same name (vlan-driver.ts). A host that can do neither says so clearly instead of failing opaquely.
 */
async function makeVlanDevice(device: string): Promise<void> {
  const m = /^(.+)\.(\d{1,4})$/.exec(device);
  if (!m || !linkExists(m[1])) throw new Error(`physical interface ${device} does not exist on this host`);
  const vlan = Number(m[2]);
  if (vlan < 1 || vlan > 4094) throw new Error(`VLAN ${vlan} of ${device} is outside 1-4094`);
  const driver = await vlanDriver();
  if (!driver) throw new Error(`VLAN networks are unsupported on this host: its kernel cannot make 802.1Q devices and Open vSwitch is not installed (${device})`);
  if (driver === 'ovs') return ovsSwitch().ensureVlanPort(m[1], vlan, device);
  try {
    await exec('ip', ['link', 'add', 'link', m[1], 'name', device, 'type', 'vlan', 'id', String(vlan)]);
  } catch (e) {
    if (linkExists(device)) return; // made meanwhile
    const why = e instanceof Error ? e.message : String(e);
    if (/Unknown device type|not supported/i.test(why)) throw new Error(`VLAN networks are unsupported on this host: its kernel cannot make 802.1Q devices (${device})`, { cause: e });
    throw e;
  }
  await exec('ip', ['link', 'set', m[1], 'up']);
  await exec('ip', ['link', 'set', device, 'up']);
}

/**
 * At agent start, where the agent's OVS realized VLANs before: its daemons run again (they die with a
 * host reboot or a crash, and their internal ports with them) and each access port is back up in its
 * Linux bridge, so the VMs on those bridges are connected again without waiting for a VM start.
 */
export async function resumeOvsVlanPorts(): Promise<string[]> {
  const ovs = ovsSwitch();
  if (!ovs.used) return [];
  await ovs.ensureRunning();
  const resumed: string[] = [];
  for (const device of await ovs.vlanPorts()) {
    const bridge = noVlanBridgeName(device);
    if (!linkExists(bridge)) continue; // nothing uses it yet: made again with the next VM
    for (let i = 0; i < 50 && !linkExists(device); i++) await new Promise((r) => setTimeout(r, 100));
    await bridgeQueue.run(bridge, () => makeBridge(bridge, device));
    resumed.push(device);
  }
  return resumed;
}

/** A tap for a NIC (named after its internalName), in `bridge` when given; replaced if left over. */
export async function createTap(tap: string, bridge: string | undefined): Promise<void> {
  if (tap.length > 15) throw new Error(`tap name ${tap} is longer than 15 characters`);
  if (linkExists(tap)) await exec('ip', ['link', 'del', tap]);
  await exec('ip', ['tuntap', 'add', 'dev', tap, 'mode', 'tap']);
  if (bridge) await exec('ip', ['link', 'set', tap, 'master', bridge]);
  await exec('ip', ['link', 'set', tap, 'up']);
}

export async function deleteTap(tap: string): Promise<void> {
  if (linkExists(tap)) await exec('ip', ['link', 'del', tap]).catch(() => undefined);
}
