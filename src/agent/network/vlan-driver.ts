import { randomBytes } from 'node:crypto';
import { exec } from '../exec.ts';
import { OvsSwitch, ovsInstalled } from './ovs.ts';

/**
 * How this host makes a VLAN L2's `<iface>.<vid>`: `kernel` (an 802.1Q device, ZStack's way) or
 * `ovs` (an access port of the agent's own Open vSwitch, ovs.ts). `auto` (the default) takes the
 * kernel when it can make 802.1Q devices, else OVS when it is installed, else none: VLAN networks are
 * then unsupported, which `/host/connect` reports as the fact `vlanSupported: false`.
 * `STRATO_AGENT_VLAN_DRIVER=kernel|ovs|auto` forces a choice.
 */
export type VlanDriver = 'kernel' | 'ovs';

let dataDir: string | undefined;
let forced: string | undefined;
let chosen: Promise<VlanDriver | null> | undefined;
let ovs: OvsSwitch | undefined;

/** Called once at agent start. */
export function configureVlanDriver(agentDataDir: string, driver = process.env.STRATO_AGENT_VLAN_DRIVER): void {
  dataDir = agentDataDir;
  forced = driver && driver !== 'auto' ? driver : undefined;
  if (forced && forced !== 'kernel' && forced !== 'ovs') throw new Error(`STRATO_AGENT_VLAN_DRIVER must be auto, kernel or ovs, not ${forced}`);
  chosen = undefined;
  ovs = undefined;
}

/** The driver in use (probed once per agent process), or null when this host cannot make VLAN networks. */
export function vlanDriver(): Promise<VlanDriver | null> {
  chosen ??= choose();
  return chosen;
}

async function choose(): Promise<VlanDriver | null> {
  // Forced to the kernel: still only where it can, so the fact never claims what the host cannot do.
  if (forced === 'kernel') return (await kernelMakesVlans()) ? 'kernel' : null;
  if (forced === 'ovs') return (await ovsInstalled()) ? 'ovs' : null;
  if (await kernelMakesVlans()) return 'kernel';
  return (await ovsInstalled()) ? 'ovs' : null;
}

/** The agent's Open vSwitch (one per data directory). */
export function ovsSwitch(): OvsSwitch {
  if (!dataDir) throw new Error('the VLAN driver was not configured (configureVlanDriver at agent start)');
  ovs ??= new OvsSwitch(dataDir);
  return ovs;
}

/**
 * Whether the kernel can make an 802.1Q device: tried for real on a veth in a throwaway namespace
 * (which also loads 8021q where it is a module), so the host's own links are never touched.
 */
export async function kernelMakesVlans(): Promise<boolean> {
  const ns = `strato-vprobe-${randomBytes(4).toString('hex')}`;
  try {
    await exec('ip', ['netns', 'add', ns]);
  } catch {
    return false; // no namespaces (not root): nothing can be probed, nor made
  }
  try {
    await exec('ip', ['-n', ns, 'link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'p1']);
    await exec('ip', ['-n', ns, 'link', 'add', 'link', 'p0', 'name', 'p0.42', 'type', 'vlan', 'id', '42']);
    return true;
  } catch {
    return false;
  } finally {
    await exec('ip', ['netns', 'del', ns]).catch(() => undefined);
  }
}
