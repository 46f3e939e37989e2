import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, totalmem, freemem, hostname, release } from 'node:os';
import { promisify } from 'node:util';
import { vlanDriver, type VlanDriver } from '../network/vlan-driver.ts';

const run = promisify(execFile);

export type Accel = 'kvm' | 'tcg';

/**
 * KVM is used only where it can really run a guest: `/dev/kvm` present and the CPU exposing vmx/svm.
 * (A VM whose kernel has KVM but whose CPU lacks them opens `/dev/kvm` fine yet runs guests ~100×
 * slower than TCG, or aborts with `-cpu host`: infra-probe §1.) `--accel` forces a choice.
 */
export function detectAccel(forced?: string): Accel {
  if (forced === 'kvm' || forced === 'tcg') return forced;
  if (!existsSync('/dev/kvm')) return 'tcg';
  try {
    const flags = readFileSync('/proc/cpuinfo', 'utf8');
    return /^flags\s*:.*\b(vmx|svm)\b/m.test(flags) ? 'kvm' : 'tcg';
  } catch {
    return 'tcg';
  }
}

export async function qemuVersion(binary: string): Promise<string | undefined> {
  try {
    const { stdout } = await run(binary, ['--version']);
    return /version\s+(\S+)/.exec(stdout)?.[1];
  } catch {
    return undefined;
  }
}

function osRelease(): string {
  try {
    const text = readFileSync('/etc/os-release', 'utf8');
    return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(text)?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** What a host tells the node about itself (ZStack's HostFactResponse, abridged). */
export interface HostFacts {
  hostname: string;
  osVersion: string;
  kernelVersion: string;
  cpuModelName: string;
  cpuNum: number;
  totalMemory: number;
  qemuVersion?: string;
  /** `kvm` or `tcg`: how this host's VMs are accelerated. */
  accel: Accel;
  /** Whether VLAN L2 networks can be realized here (an 802.1Q kernel, or Open vSwitch): the node refuses them on a host without. */
  vlanSupported: boolean;
  /** How: `kernel` (802.1Q devices) or `ovs` (the agent's Open vSwitch); null when unsupported. */
  vlanDriver: VlanDriver | null;
}

export async function hostFacts(qemuBinary: string, accel: Accel): Promise<HostFacts> {
  const driver = await vlanDriver();
  return {
    hostname: hostname(),
    osVersion: osRelease(),
    kernelVersion: release(),
    cpuModelName: cpus()[0]?.model ?? 'unknown',
    cpuNum: cpus().length,
    totalMemory: totalmem(),
    qemuVersion: await qemuVersion(qemuBinary),
    accel,
    vlanSupported: driver !== null,
    vlanDriver: driver,
  };
}

/** CPU and memory as `/host/capacity` reports them (the node allocates from these totals). */
export function hostCapacity(): { cpuNum: number; cpuSockets: number; cpuSpeed: number; totalMemory: number; usedMemory: number } {
  const list = cpus();
  let sockets = 1;
  try {
    const ids = new Set([...readFileSync('/proc/cpuinfo', 'utf8').matchAll(/^physical id\s*:\s*(\d+)/gm)].map((m) => m[1]));
    sockets = Math.max(1, ids.size);
  } catch {
    /* not Linux: one socket */
  }
  return { cpuNum: list.length, cpuSockets: sockets, cpuSpeed: list[0]?.speed ?? 0, totalMemory: totalmem(), usedMemory: totalmem() - availableMemory() };
}

/** MemAvailable (what the kernel could hand out, page cache included), not MemFree, which counts the cache as used. */
function availableMemory(): number {
  try {
    const kb = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1];
    if (kb) return Number(kb) * 1024;
  } catch {
    /* not Linux */
  }
  return freemem();
}
