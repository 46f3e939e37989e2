import { AGENT_TOKEN_HEADER } from '../../core/agent/index.ts';
import { completeMirrors, createTargetDisks, disksToCopy, dropMirrors, exportDisks, removeDiskFiles, startMirrors, stopExports, waitMirrorsReady, type DiskToCopy, type MirrorJob, type PreparedDisk } from './migrate-disks.ts';
import type { StartVmCmd, VolumeTO } from './vm-spec.ts';
import type { VmHandle, VmSupervisor } from './vm-supervisor.ts';

/** Agent-to-agent paths (synchronous, same token rule): the destination side of a live migration. */
export const MigrationAgentPaths = {
  incoming: '/vm/migrate/incoming',
  abort: '/vm/migrate/abort',
  /** The migration completed: the destination stops exporting the copied disks. */
  finish: '/vm/migrate/finish',
} as const;

/** Agent→node report while `/vm/migrate` runs: `{taskUuid, vmInstanceUuid, percent}`, at most once a second. */
export const MIGRATE_PROGRESS_PATH = '/vm/migrate/progress';

export interface MigrateCmd {
  vmInstanceUuid?: string;
  destHostUuid?: string;
  /** The address the migration stream goes to (the destination QEMU listens there). */
  destHostManagementIp?: string;
  /** The destination's agent; default `http://<destHostManagementIp>:7070`. */
  destAgentUrl?: string;
  /** The destination agent's per-host token (README: the node must send it). */
  destAgentToken?: string;
  /**
   * ZStack's: absent, the disks are shared (same paths on both hosts, nothing copied); `IncCopy`, each disk
   * is copied, only its own layer when its backing file is at the same path on the destination;
   * `FullCopy`, each disk's whole chain is copied into a standalone file.
   */
  storageMigrationPolicy?: 'IncCopy' | 'FullCopy' | null;
}

async function postAgent<R>(url: string, token: string, body: unknown): Promise<R> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8', [AGENT_TOKEN_HEADER]: token }, body: JSON.stringify(body), signal: AbortSignal.timeout(120_000) }).catch((e: unknown) => {
    // fetch says only "fetch failed": the cause (ECONNREFUSED, a timeout…) is what an operator needs
    const cause = e instanceof Error && e.cause instanceof Error ? ((e.cause as NodeJS.ErrnoException).code ?? e.cause.message) : String(e);
    throw new Error(`cannot reach the destination agent at ${url}: ${cause}`);
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${url} answered HTTP ${res.status}: ${text}`);
  const r = JSON.parse(text) as R & { success: boolean; error?: string };
  if (!r.success) throw new Error(`${url} failed: ${r.error ?? 'no reason given'}`);
  return r;
}

const volumesOf = (spec: StartVmCmd): VolumeTO[] => [spec.rootVolume!, ...(spec.dataVolumes ?? [])];

/** What the destination answers `/vm/migrate/incoming`: where the RAM goes, and where the disks go when copied. */
interface IncomingReply {
  port: number;
  nbdPort?: number;
  disks?: PreparedDisk[];
}

/**
 * Live migration, QEMU to QEMU (as libvirt's peer-to-peer migration): the destination agent starts
 * the same VM with `-incoming` on the destination's address, the source QEMU streams its state there
 * (`migrate`, polled with `query-migrate`), then quits. With `storageMigrationPolicy` the disks move
 * too (migrate-disks.ts): mirrored into the destination's NBD exports until in sync, then the RAM; at
 * `pre-switchover` (the guest paused) the mirrors are completed, then the migration; the source's disk
 * files are deleted only once the destination runs the VM. Any failure before that aborts the
 * destination (its QEMU and the files it made go) and the VM runs on at the source, its disks untouched.
 */
export async function migrateVm(sup: VmSupervisor, cmd: MigrateCmd, opts: { timeoutMs?: number; progress?: (percent: number) => void } = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 3 * 3600_000; // as the node waits (MigrateVm's timeout): large disks take long
  const progress = opts.progress ?? (() => undefined);
  const vm = sup.require(cmd.vmInstanceUuid);
  // (a node rolling back a migration it stopped waiting for may find the VM here still arriving)
  if (vm.incoming) throw new Error(`VM ${vm.uuid} is still arriving here by an incoming migration: it cannot be migrated on before that ends`);
  if (!cmd.destHostManagementIp) throw new Error('destHostManagementIp is missing');
  if (!cmd.destAgentToken) throw new Error('destAgentToken is missing: the node must send the destination agent\'s token for a live migration');
  if (cmd.storageMigrationPolicy && cmd.storageMigrationPolicy !== 'IncCopy' && cmd.storageMigrationPolicy !== 'FullCopy') throw new Error(`storageMigrationPolicy must be IncCopy, FullCopy or absent (got ${String(cmd.storageMigrationPolicy)})`);
  const destIp = cmd.destHostManagementIp;
  const destToken = cmd.destAgentToken;
  const destAgent = (cmd.destAgentUrl ?? `http://${destIp}:7070`).replace(/\/$/, '');
  const copying = Boolean(cmd.storageMigrationPolicy);
  const volumes = volumesOf(vm.spec);
  const disks: DiskToCopy[] | undefined = copying ? await disksToCopy(volumes) : undefined;
  // The destination opens the disks from their files; the source's block node stack is its own business.
  const spec: StartVmCmd = { ...vm.spec, rootVolume: vm.spec.rootVolume && { ...vm.spec.rootVolume, overlayNodes: undefined }, dataVolumes: (vm.spec.dataVolumes ?? []).map((v) => ({ ...v, overlayNodes: undefined })) };
  const abortDest = () => postAgent(`${destAgent}${MigrationAgentPaths.abort}`, destToken, { vmInstanceUuid: vm.uuid }).catch(() => undefined);
  let incoming: IncomingReply;
  try {
    incoming = await postAgent<IncomingReply>(`${destAgent}${MigrationAgentPaths.incoming}`, cmd.destAgentToken, { vmInstanceUuid: vm.uuid, spec, listenIp: destIp, disks, fullCopy: cmd.storageMigrationPolicy === 'FullCopy' });
  } catch (e) {
    // A reply lost or late (our 120 s ran out while the destination still made its QEMU and disks) must
    // not leave them there: the destination runs the abort after its incoming (one command per VM at a time).
    await abortDest();
    throw e;
  }
  const jobs: MirrorJob[] = [];
  // A guest paused before stays paused if the migration fails; the migration's own pause is not reported as the guest's.
  const wasRunning = vm.state === 'Running';
  vm.migrating = true;
  // Disks weigh 80 % of the progress when they move (they are most of the bytes), RAM the rest.
  const diskShare = copying ? 80 : 0;
  try {
    await vm.qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'pause-before-switchover', state: copying }] });
    if (copying) {
      if (!incoming.nbdPort || !incoming.disks) throw new Error('the destination did not export the disks to copy');
      await startMirrors(vm.qmp, volumes, incoming.disks, { ip: destIp, nbdPort: incoming.nbdPort }, jobs);
      await waitMirrorsReady(vm.qmp, jobs, (f) => progress(f * diskShare), timeoutMs);
    }
    await vm.qmp.execute('migrate', { uri: `tcp:${destIp}:${incoming.port}` });
    await followMigration(vm, jobs, timeoutMs, (f) => progress(diskShare + f * (100 - diskShare)));
  } catch (e) {
    await vm.qmp.execute('migrate_cancel').catch(() => undefined);
    await dropMirrors(vm.qmp, jobs);
    await abortDest();
    // the source never stopped being the VM's home: it runs on (a failed migration resumes it)
    if (wasRunning && (await vm.qmp.execute<{ running: boolean }>('query-status').catch(() => ({ running: true }))).running === false) await vm.qmp.execute('cont').catch(() => undefined);
    // the state as QEMU has it now, before reports resume (a late RESUME event then matches it: no news)
    vm.state = (await vm.qmp.execute<{ running: boolean }>('query-status').catch(() => ({ running: wasRunning }))).running ? 'Running' : 'Paused';
    vm.migrating = false;
    throw e;
  }
  await dropMirrors(vm.qmp, jobs);
  await sup.handOver(vm.uuid);
  progress(100);
  // Always: a VM that left paused arrives paused (no RESUME there says it arrived), and copied disks stop being exported.
  await postAgent(`${destAgent}${MigrationAgentPaths.finish}`, destToken, { vmInstanceUuid: vm.uuid }).catch(() => undefined);
  // The VM runs there on its own copies: the source's go (never their backing files, which other disks may use).
  if (copying) removeDiskFiles(volumes.map((v) => v.installPath));
}

/** Polls `query-migrate` to `completed`; at `pre-switchover` (disks copied along) completes the mirrors first. */
async function followMigration(vm: VmHandle, jobs: MirrorJob[], timeoutMs: number, onFraction: (f: number) => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = await vm.qmp.execute<{ status?: string; 'error-desc'?: string; ram?: { transferred?: number; total?: number; remaining?: number } }>('query-migrate');
    if (info.status === 'completed') return;
    if (info.status === 'failed' || info.status === 'cancelled') throw new Error(`migration ${info.status}: ${info['error-desc'] ?? 'no reason given'}`);
    if (info.status === 'pre-switchover') {
      await completeMirrors(vm.qmp, jobs);
      await vm.qmp.execute('migrate-continue', { state: 'pre-switchover' });
    }
    const total = info.ram?.total ?? 0;
    if (total) onFraction(Math.min(1, (total - (info.ram?.remaining ?? total)) / total));
    if (Date.now() > deadline) throw new Error(`migration did not complete within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The destination's disk files made for incoming migrations, by VM: what an abort removes. */
const incomingDiskFiles = new Map<string, string[]>();

export interface IncomingCmd {
  vmInstanceUuid?: string;
  spec?: Partial<StartVmCmd>;
  listenIp?: string;
  /** Disks to copy here (absent: shared storage, the files are already here). */
  disks?: DiskToCopy[];
  fullCopy?: boolean;
}

/**
 * The destination side: the disks to copy made empty at their paths, QEMU started with `-incoming`,
 * and (disks copied) an NBD server exporting them to the source. Any failure removes all of it.
 */
export async function acceptIncoming(sup: VmSupervisor, cmd: IncomingCmd): Promise<IncomingReply> {
  if (!cmd.spec || cmd.spec.vmInstanceUuid !== cmd.vmInstanceUuid || !cmd.listenIp) throw new Error('incoming migration needs vmInstanceUuid, its spec and listenIp');
  const uuid = cmd.vmInstanceUuid!;
  if (sup.get(uuid)) throw new Error(`VM ${uuid} already runs on this host`);
  // Files of an earlier arrival whose finish never came are not this one's: an abort must not remove them.
  incomingDiskFiles.delete(uuid);
  const made: string[] = [];
  let started = false;
  try {
    const disks = cmd.disks?.length ? await createTargetDisks(cmd.disks, made, cmd.fullCopy) : undefined;
    if (made.length) incomingDiskFiles.set(uuid, made);
    const { port } = await sup.startIncoming(cmd.spec, cmd.listenIp);
    started = true;
    if (!disks) return { port };
    const nbdPort = await exportDisks(sup.require(uuid).qmp, cmd.listenIp, cmd.disks!);
    return { port, nbdPort, disks };
  } catch (e) {
    if (started) await sup.destroy(uuid).catch(() => undefined);
    removeDiskFiles(made);
    incomingDiskFiles.delete(uuid);
    throw e;
  }
}

/** The source gave up: a VM still waiting for its state is dropped with the disk files made for it. */
export async function abortIncoming(sup: VmSupervisor, uuid: string): Promise<void> {
  const vm = sup.get(uuid);
  // one that already runs here is not the source's to kill (nor are its disks)
  if (vm && !vm.incoming) return;
  if (vm) await sup.destroy(uuid);
  removeDiskFiles(incomingDiskFiles.get(uuid) ?? []);
  incomingDiskFiles.delete(uuid);
}

/**
 * The migration completed and the VM is here: the copied disks are its own now, no longer exported, and
 * the VM no longer counts as arriving. A running guest's RESUME already said so; one paused at the source
 * arrives paused and emits none, so without this it stayed "arriving" and could never migrate on.
 */
export async function finishIncoming(sup: VmSupervisor, uuid: string): Promise<void> {
  incomingDiskFiles.delete(uuid);
  const vm = sup.get(uuid);
  if (!vm) return;
  await stopExports(vm.qmp);
  if (!vm.incoming) return;
  // The source may see `completed` a moment before this QEMU has loaded the last of the stream.
  for (let waited = 0; waited < 5000; waited += 100) {
    const s = await vm.qmp.execute<{ status: string; running: boolean }>('query-status');
    if (s.status !== 'inmigrate') {
      vm.incoming = false;
      vm.state = s.running ? 'Running' : 'Paused';
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
