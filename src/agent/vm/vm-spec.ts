import type { NicNetwork } from '../network/bridges.ts';

/** A volume as the node sends it (start command, attach). `installPath` is a file on this host. */
export interface VolumeTO {
  uuid: string;
  installPath: string;
  deviceId?: number | null;
  format?: string | null;
  type?: string;
  /** Agent-private: block nodes live snapshots stacked on the volume's own node, bottom to top. */
  overlayNodes?: string[];
}

/** A NIC as the node sends it; `internalName` names the tap. Network fields: README. */
export interface NicTO extends NicNetwork {
  uuid: string;
  mac: string;
  deviceId?: number | null;
  internalName?: string | null;
  ip?: string | null;
}

/** `/vm/start` (ZStack's StartVmCmd, abridged): what `startVmCommand` in the VM service builds. */
export interface StartVmCmd {
  vmInstanceUuid: string;
  vmName?: string;
  cpuNum: number;
  /** Bytes. */
  memorySize: number;
  rootVolume: VolumeTO | null;
  dataVolumes?: VolumeTO[];
  nics?: NicTO[];
}

/** QEMU block node name of a volume (≤ 31 characters, starts with a letter). */
export const nodeNameOf = (volumeUuid: string) => `v${volumeUuid.replace(/-/g, '').slice(0, 30)}`;
/** The node QEMU writes the volume through: the top of its chain. */
export const topNodeOf = (v: VolumeTO) => v.overlayNodes?.at(-1) ?? nodeNameOf(v.uuid);
export const diskIdOf = (volumeUuid: string) => `disk-${volumeUuid}`;
export const nicIdOf = (nicUuid: string) => `nic-${nicUuid}`;
export const netdevIdOf = (nicUuid: string) => `net-${nicUuid.replace(/-/g, '').slice(0, 24)}`;
/** The tap of a NIC: its internalName (`vnic<vm8>.<n>`), else derived from its uuid; ≤ 15 characters. */
export const tapOf = (nic: NicTO) => (nic.internalName || `vnic${nic.uuid.slice(0, 10)}`).slice(0, 15);

const VM_UUID = /^[0-9a-zA-Z-]{8,64}$/;

/** A VM uuid from a command, checked: it names a directory under the agent's vms dir (never `''` or `../x`). */
export function vmUuidOf(uuid: unknown): string {
  if (typeof uuid !== 'string' || !VM_UUID.test(uuid)) throw new Error(`vmInstanceUuid is missing or malformed (got ${JSON.stringify(uuid) ?? 'nothing'})`);
  return uuid;
}

/** What makes a start command bad input, before anything is created. */
export function validateStart(cmd: Partial<StartVmCmd>): asserts cmd is StartVmCmd {
  const problems: string[] = [];
  if (!cmd.vmInstanceUuid || !VM_UUID.test(cmd.vmInstanceUuid)) problems.push('vmInstanceUuid is missing or malformed');
  if (!Number.isInteger(cmd.cpuNum) || (cmd.cpuNum ?? 0) < 1) problems.push(`cpuNum must be a positive integer (got ${String(cmd.cpuNum)})`);
  if (!Number.isFinite(cmd.memorySize) || (cmd.memorySize ?? 0) < 16 * 1024 * 1024) problems.push(`memorySize must be at least 16 MiB in bytes (got ${String(cmd.memorySize)})`);
  if (!cmd.rootVolume?.installPath?.startsWith('/')) problems.push('rootVolume.installPath must be an absolute path on this host');
  for (const v of cmd.dataVolumes ?? []) if (!v.installPath?.startsWith('/')) problems.push(`data volume ${v.uuid}: installPath must be an absolute path`);
  for (const n of cmd.nics ?? []) if (!n.uuid || !/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(n.mac ?? '')) problems.push(`nic ${String(n.uuid)}: needs a uuid and a MAC address`);
  if (problems.length) throw new Error(`bad /vm/start command: ${problems.join('; ')}`);
}
