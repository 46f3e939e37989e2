import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { REPORT_VM_STATE_PATH } from '../../contracts/vm.ts';
import { writeFileAtomic } from '../files.ts';
import type { Accel } from '../host/host-facts.ts';
import type { AgentMetrics } from '../metrics.ts';
import { bridgeOf, createTap, deleteTap, ensureBridge } from '../network/bridges.ts';
import { applyNicQosOf, releaseNicQosOf } from '../network/qos-commands.ts';
import type { NodeReporter } from '../node-reporter.ts';
import { QmpClient } from './qmp-client.ts';
import { qemuArgs, type VmFiles } from './qemu-args.ts';
import { isQemuOf, killHard, spawnQemu, tailOf, waitGone } from './vm-process.ts';
import { tapOf, validateStart, vmUuidOf, type StartVmCmd, type VolumeTO } from './vm-spec.ts';

export type VmRunState = 'Running' | 'Paused';

/** A QEMU this agent supervises. `spec` is the start command as amended by hot-plugs. */
export interface VmHandle {
  uuid: string;
  files: VmFiles;
  spec: StartVmCmd;
  pid: number;
  qmp: QmpClient;
  state: VmRunState;
  vncPort?: number;
  /** Set while the agent itself takes the VM down: its exit is then no news for the node. */
  stopping: boolean;
  /** A migration destination waiting for (or receiving) the VM's state: it runs once the stream completes. */
  incoming?: boolean;
  /** The source of a live migration: the pause the migration makes (and a failed one's resume) is not news for the node. */
  migrating?: boolean;
}

export interface SupervisorDeps {
  dataDir: string;
  qemuBinary: string;
  accel: Accel;
  reporter: NodeReporter;
  metrics: AgentMetrics;
  log: Logger;
}

/**
 * Starts, watches and stops this host's QEMUs. Each VM has a directory `<data-dir>/vms/<uuid>/` with
 * its start command (`spec.json`), `qemu.pid`, the QMP and serial sockets and the serial log; that is
 * all a restarted agent needs to take a running VM over (`rediscover`). A QEMU that exits while the
 * agent did not ask for it (guest poweroff, crash, kill) is reported to the node as Stopped.
 */
export class VmSupervisor {
  readonly #vms = new Map<string, VmHandle>();
  readonly #root: string;
  readonly #logs: string;

  constructor(private readonly d: SupervisorDeps) {
    this.#root = join(d.dataDir, 'vms');
    this.#logs = join(d.dataDir, 'logs');
    mkdirSync(this.#root, { recursive: true });
    mkdirSync(this.#logs, { recursive: true });
  }

  get(uuid: string): VmHandle | undefined {
    return this.#vms.get(uuid);
  }

  require(uuid: string | undefined): VmHandle {
    const vm = uuid ? this.#vms.get(uuid) : undefined;
    if (!vm) throw new Error(`VM ${String(uuid)} is not running on this host`);
    return vm;
  }

  all(): VmHandle[] {
    return [...this.#vms.values()];
  }

  /** The running VM that has `installPath` open, if any (storage commands must not touch its files behind QEMU's back). */
  usingFile(installPath: string): { vm: VmHandle; volume: VolumeTO } | undefined {
    for (const vm of this.#vms.values()) {
      for (const v of [vm.spec.rootVolume, ...(vm.spec.dataVolumes ?? [])]) if (v?.installPath === installPath) return { vm, volume: v };
    }
    return undefined;
  }

  filesOf(uuid: string): VmFiles {
    const dir = join(this.#root, uuid);
    // Logs sit outside the runtime directory: they outlive a stop (the runtime directory does not).
    return { dir, qmp: join(dir, 'qmp.sock'), serialSocket: join(dir, 'serial.sock'), serialLog: join(this.#logs, `${uuid}.serial.log`), qemuLog: join(this.#logs, `${uuid}.qemu.log`) };
  }

  /** Persists a VM's spec after a hot-plug, so a restarted agent knows its devices. */
  saveSpec(vm: VmHandle): void {
    writeFileAtomic(join(vm.files.dir, 'spec.json'), JSON.stringify(vm.spec));
  }

  start(cmd: Partial<StartVmCmd>): Promise<{ vncPort?: number }> {
    return this.#launch(cmd);
  }

  /**
   * The destination side of a live migration: the same QEMU, started with `-incoming defer`, then
   * listening on `listenIp` (a port QEMU picks). It holds the VM paused until the stream completes.
   */
  async startIncoming(cmd: Partial<StartVmCmd>, listenIp: string): Promise<{ port: number }> {
    if (cmd.vmInstanceUuid && this.#vms.has(cmd.vmInstanceUuid)) throw new Error(`VM ${cmd.vmInstanceUuid} already runs on this host`);
    await this.#launch(cmd, listenIp);
    const vm = this.require(cmd.vmInstanceUuid);
    const info = await vm.qmp.execute<{ 'socket-address'?: Array<{ port?: string }> }>('query-migrate');
    const port = Number(info['socket-address']?.[0]?.port);
    if (!port) {
      await this.destroy(vm.uuid);
      throw new Error('QEMU did not say which port it listens on for the migration');
    }
    return { port };
  }

  async #launch(cmd: Partial<StartVmCmd>, incomingIp?: string): Promise<{ vncPort?: number }> {
    validateStart(cmd);
    const existing = this.#vms.get(cmd.vmInstanceUuid);
    if (existing && isQemuOf(existing.pid, existing.files.dir)) return { vncPort: existing.vncPort };
    for (const v of [cmd.rootVolume!, ...(cmd.dataVolumes ?? [])]) if (!existsSync(v.installPath)) throw new Error(`volume ${v.uuid}: ${v.installPath} does not exist on this host`);
    const files = this.filesOf(cmd.vmInstanceUuid);
    rmSync(files.dir, { recursive: true, force: true });
    mkdirSync(files.dir, { recursive: true });
    writeFileAtomic(join(files.dir, 'spec.json'), JSON.stringify(cmd));
    writeFileSync(files.serialLog, ''); // this boot's console only
    let pid = 0;
    try {
      for (const nic of cmd.nics ?? []) {
        const bridge = bridgeOf(nic);
        if (bridge) await ensureBridge(bridge, nic.physicalInterface);
        await createTap(tapOf(nic), bridge);
        await applyNicQosOf(tapOf(nic), nic);
      }
      pid = spawnQemu(this.d.qemuBinary, [...qemuArgs(cmd, files, this.d.accel), ...(incomingIp ? ['-incoming', 'defer'] : [])], files.qemuLog);
      writeFileAtomic(join(files.dir, 'qemu.pid'), String(pid));
      const qmp = await QmpClient.connect(files.qmp, 30_000).catch((e: unknown) => {
        throw new Error(`QEMU did not start: ${tailOf(files.qemuLog) || (e instanceof Error ? e.message : String(e))}`);
      });
      const vm: VmHandle = { uuid: cmd.vmInstanceUuid, files, spec: cmd, pid, qmp, state: incomingIp ? 'Paused' : 'Running', stopping: false, incoming: Boolean(incomingIp) };
      vm.vncPort = await vncPortOf(qmp);
      if (incomingIp) await qmp.execute('migrate-incoming', { uri: `tcp:${incomingIp}:0` });
      this.#watch(vm);
      this.d.log.info({ vmUuid: vm.uuid, pid, vncPort: vm.vncPort }, 'VM started');
      return { vncPort: vm.vncPort };
    } catch (e) {
      if (pid) {
        killHard(pid, files.dir);
        await waitGone(pid, files.dir, 5000);
      }
      await this.#cleanUp(cmd);
      // a start that failed leaves nothing (QEMU's complaint is in the error)
      for (const f of [files.dir, files.serialLog, files.qemuLog]) rmSync(f, { recursive: true, force: true });
      throw e;
    }
  }

  /** ACPI power button, then (after `timeoutSec`) a hard stop; `type: 'cold'` stops at once. */
  async stop(uuid: string, opts: { type?: string; timeoutSec?: number } = {}): Promise<void> {
    const vm = this.#vms.get(uuid);
    if (!vm) return; // already off: what was asked
    vm.stopping = true;
    if (opts.type !== 'cold' && vm.state === 'Running') {
      await vm.qmp.execute('system_powerdown').catch(() => undefined);
      if (await waitGone(vm.pid, vm.files.dir, (opts.timeoutSec ?? 30) * 1000)) return this.#gone(vm);
      this.d.log.warn({ vmUuid: uuid }, 'the guest ignored the ACPI power button; stopping it hard');
    }
    await vm.qmp.execute('quit', undefined, 5000).catch(() => undefined);
    if (!(await waitGone(vm.pid, vm.files.dir, 5000))) killHard(vm.pid, vm.files.dir);
    await waitGone(vm.pid, vm.files.dir, 5000);
    await this.#gone(vm);
  }

  async destroy(uuid: string): Promise<void> {
    vmUuidOf(uuid); // its files are removed by path: never the whole vms dir or one outside it
    await this.stop(uuid, { type: 'cold' });
    const files = this.filesOf(uuid);
    for (const f of [files.dir, files.serialLog, files.qemuLog]) rmSync(f, { recursive: true, force: true });
  }

  async reboot(uuid: string): Promise<void> {
    const vm = this.require(uuid);
    await vm.qmp.execute('system_reset');
    if (vm.state === 'Paused') await vm.qmp.execute('cont');
    vm.state = 'Running';
  }

  pause(uuid: string): Promise<void> {
    return this.#runState(this.require(uuid), 'stop', 'Paused');
  }

  resume(uuid: string): Promise<void> {
    return this.#runState(this.require(uuid), 'cont', 'Running');
  }

  /** QMP stop/cont, confirmed by query-status. The state is set first: the STOP/RESUME event that follows is ours, not news. */
  async #runState(vm: VmHandle, command: string, want: VmRunState): Promise<void> {
    vm.state = want;
    try {
      await vm.qmp.execute(command);
    } finally {
      vm.state = await statusOf(vm.qmp).catch(() => vm.state);
      this.#countStates();
    }
    if (vm.state !== want) throw new Error(`VM ${vm.uuid} is ${vm.state} after ${command}`);
  }

  /**
   * Takes over the QEMUs a previous life of this agent started: a live one is watched again; one that
   * died meanwhile is cleaned up and reported Stopped.
   */
  async rediscover(): Promise<void> {
    for (const uuid of readdirSync(this.#root)) {
      const files = this.filesOf(uuid);
      const specFile = join(files.dir, 'spec.json');
      const pidFile = join(files.dir, 'qemu.pid');
      if (!existsSync(specFile)) continue;
      const spec = JSON.parse(readFileSync(specFile, 'utf8')) as StartVmCmd;
      const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0;
      if (pid && isQemuOf(pid, files.dir)) {
        try {
          const qmp = await QmpClient.connect(files.qmp, 10_000);
          const vm: VmHandle = { uuid, files, spec, pid, qmp, state: await statusOf(qmp), stopping: false };
          vm.vncPort = await vncPortOf(qmp);
          this.#watch(vm);
          this.d.log.info({ vmUuid: uuid, pid, state: vm.state }, 'took over a running VM');
          continue;
        } catch (e) {
          this.d.log.error({ vmUuid: uuid, pid, err: e instanceof Error ? e.message : String(e) }, 'a VM process is alive but its QMP does not answer; stopping it');
          killHard(pid, files.dir);
        }
      }
      await this.#cleanUp(spec);
      rmSync(files.dir, { recursive: true, force: true });
      this.d.log.warn({ vmUuid: uuid }, 'a VM stopped while the agent was down');
      void this.d.reporter.report(REPORT_VM_STATE_PATH, { vmUuid: uuid, vmState: 'Stopped' });
    }
    this.#countStates();
  }

  /** The source side's end of a completed migration: QEMU quits, its taps go, nothing is reported. */
  async handOver(uuid: string): Promise<void> {
    const vm = this.require(uuid);
    vm.stopping = true;
    await vm.qmp.execute('quit', undefined, 5000).catch(() => undefined);
    if (!(await waitGone(vm.pid, vm.files.dir, 5000))) killHard(vm.pid, vm.files.dir);
    await this.#gone(vm);
  }

  /** Lets the VMs run on without this agent (a restart takes them over). */
  detachAll(): void {
    for (const vm of this.#vms.values()) {
      vm.stopping = true;
      vm.qmp.close();
    }
    this.#vms.clear();
  }

  #watch(vm: VmHandle): void {
    this.#vms.set(vm.uuid, vm);
    this.#countStates();
    vm.qmp.on('event', (e) => {
      if (vm.stopping) return;
      if (vm.incoming && e.event === 'RESUME') {
        // the migration stream completed here: the VM is ours now, and the node is told by the source's answer;
        // disks copied along are no longer exported (the source's mirrors ended before the switchover), even if its `finish` never comes
        vm.incoming = false;
        void vm.qmp.execute('nbd-server-stop').catch(() => undefined);
        vm.state = 'Running';
        this.#countStates();
        return;
      }
      if (e.event === 'STOP' || e.event === 'RESUME') {
        const state: VmRunState = e.event === 'STOP' ? 'Paused' : 'Running';
        if (state === vm.state) return;
        vm.state = state;
        this.#countStates();
        if (vm.migrating) return;
        void this.d.reporter.report(REPORT_VM_STATE_PATH, { vmUuid: vm.uuid, vmState: state });
      }
    });
    vm.qmp.once('close', () => {
      if (vm.stopping || this.#vms.get(vm.uuid) !== vm) return;
      void (async () => {
        await waitGone(vm.pid, vm.files.dir, 5000);
        if (isQemuOf(vm.pid, vm.files.dir)) {
          this.d.log.error({ vmUuid: vm.uuid }, 'QMP closed but QEMU still runs; killing it');
          killHard(vm.pid, vm.files.dir);
        }
        this.d.log.warn({ vmUuid: vm.uuid, serial: tailOf(vm.files.serialLog, 300) }, 'VM stopped on its own (guest poweroff, crash or killed)');
        await this.#gone(vm);
        await this.d.reporter.report(REPORT_VM_STATE_PATH, { vmUuid: vm.uuid, vmState: 'Stopped' });
      })();
    });
  }

  async #gone(vm: VmHandle): Promise<void> {
    vm.qmp.close();
    if (this.#vms.get(vm.uuid) === vm) this.#vms.delete(vm.uuid);
    await this.#cleanUp(vm.spec);
    rmSync(vm.files.dir, { recursive: true, force: true });
    this.#countStates();
  }

  async #cleanUp(spec: Partial<StartVmCmd>): Promise<void> {
    for (const nic of spec.nics ?? []) {
      await deleteTap(tapOf(nic));
      await releaseNicQosOf(tapOf(nic));
    }
  }

  #countStates(): void {
    const all = this.all();
    this.d.metrics.vms.set({ state: 'Running' }, all.filter((v) => v.state === 'Running').length);
    this.d.metrics.vms.set({ state: 'Paused' }, all.filter((v) => v.state === 'Paused').length);
  }
}

async function statusOf(qmp: QmpClient): Promise<VmRunState> {
  const s = await qmp.execute<{ status: string; running: boolean }>('query-status');
  return s.running ? 'Running' : 'Paused';
}

async function vncPortOf(qmp: QmpClient): Promise<number | undefined> {
  const v = await qmp.execute<{ enabled: boolean; service?: string }>('query-vnc').catch(() => undefined);
  return v?.enabled && v.service ? Number(v.service) : undefined;
}
