import type { Kysely } from 'kysely';
import { buildEnvironment, type EnvSpec } from '../../src/cli/environment.ts';
import type { TestClient } from './test-node.ts';

export const GiB = 1024 ** 3;
export const MiB = 1024 ** 2;

/** Everything a VM needs, in its own zone: Simulator hosts, an L3 (L2 attached), an image on an attached backup storage, an attached primary storage. */
export interface VmWorld {
  zone: string;
  cluster: string;
  hosts: string[];
  l2: string;
  l3: string;
  l3b: string;
  backupStorage: string;
  image: string;
  primaryStorage: string;
  offering: string;
  diskOffering: string;
}

let ipSeq = 0;

/**
 * The world as an environment spec (ZStack's EnvSpec): one zone, a Simulator cluster with `hosts`
 * hosts, an L2 with two L3s, an image on an attached backup storage, an attached primary storage,
 * an instance offering (2 CPUs, 2 GiB) and a disk offering (5 GiB). Every name starts with `name-`.
 */
export function vmWorldSpec(name: string, opts: VmWorldOptions = {}): EnvSpec {
  const subnet = opts.subnet ?? '10.20.0';
  const cap = opts.psCapacity ?? 500 * GiB;
  const hosts = Array.from({ length: opts.hosts ?? 2 }, (_, i) => {
    ipSeq++;
    return { name: `${name}-host-${i}`, managementIp: `10.${200 + Math.floor(ipSeq / 250)}.${ipSeq % 250}.1`, cpuCapacity: opts.cpu ?? 8, memoryCapacity: opts.memory ?? 16 * GiB };
  });
  return {
    instanceOfferings: [{ name: `${name}-io`, cpuNum: 2, memorySize: 2 * GiB }],
    diskOfferings: [{ name: `${name}-do`, diskSize: 5 * GiB }],
    backupStorage: [{ name: `${name}-bs`, url: `/sim/${name}-bs`, totalCapacity: 1024 * GiB, images: [{ name: `${name}-image`, url: `http://images.example/${name}.qcow2?size=${opts.imageSize ?? 2 * GiB}` }] }],
    zones: [{
      name: `${name}-zone`,
      backupStorage: [`${name}-bs`],
      primaryStorage: [{ name: `${name}-ps`, url: `/sim/${name}-ps`, totalCapacity: cap }],
      l2Networks: [{
        name: `${name}-l2`, physicalInterface: 'eth0', l3Networks: [
          { name: `${name}-l3`, ipRanges: [{ startIp: opts.ipStart ?? `${subnet}.10`, endIp: opts.ipEnd ?? `${subnet}.250`, netmask: '255.255.255.0', gateway: `${subnet}.1` }] },
          { name: `${name}-l3b`, ipRanges: [{ startIp: '172.31.0.10', endIp: '172.31.0.20', netmask: '255.255.255.0', gateway: '172.31.0.1' }] },
        ],
      }],
      clusters: [{ name: `${name}-cluster`, hypervisorType: 'Simulator', primaryStorage: [`${name}-ps`], l2Networks: [`${name}-l2`], hosts }],
    }],
  };
}

export interface VmWorldOptions { hosts?: number; cpu?: number; memory?: number; psCapacity?: number; imageSize?: number; ipStart?: string; ipEnd?: string; subnet?: string }

/** Builds `vmWorldSpec` through the public API with the environment DSL, as a user's script would. */
export async function buildVmWorld(c: TestClient, name: string, opts: VmWorldOptions = {}): Promise<VmWorld> {
  const env = await buildEnvironment(c.url, vmWorldSpec(name, opts), undefined, { session: c.session });
  const u = (suffix: string) => env.uuid(`${name}-${suffix}`);
  return {
    zone: u('zone'), cluster: u('cluster'), hosts: Array.from({ length: opts.hosts ?? 2 }, (_, i) => u(`host-${i}`)), l2: u('l2'), l3: u('l3'), l3b: u('l3b'),
    backupStorage: u('bs'), image: u('image'), primaryStorage: u('ps'), offering: u('io'), diskOffering: u('do'),
  };
}

/** Every counter a VM touches: what a failed create must leave exactly as it found it. */
export async function accounting(db: Kysely<any>, w: VmWorld): Promise<Record<string, unknown>> {
  const hosts = await db.selectFrom('host').select(['uuid', 'availableCpuCapacity', 'availableMemoryCapacity']).where('uuid', 'in', w.hosts).orderBy('uuid').execute();
  const ps = await db.selectFrom('primary_storage').select(['availableCapacity']).where('uuid', '=', w.primaryStorage).executeTakeFirstOrThrow();
  const count = async (table: string) => Number((await db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  return {
    hosts: hosts.map((h) => [h.uuid, Number(h.availableCpuCapacity), Number(h.availableMemoryCapacity)]),
    ps: Number(ps.availableCapacity),
    usedIps: await count('used_ip'), volumes: await count('volume'), vms: await count('vm_instance'), nics: await count('vm_nic'),
    systemTags: await count('system_tag'), userTags: await count('user_tag'), psVolumes: await count('simulator_primary_storage_volume'),
  };
}
