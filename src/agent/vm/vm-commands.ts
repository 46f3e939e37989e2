import { VmAgentPaths } from '../../contracts/vm.ts';
import { VmNicAgentPaths } from '../../contracts/vm-nic.ts';
import { VmVolumeAgentPaths } from '../../contracts/vm-volume.ts';
import type { CommandContext, CommandRegistry } from '../command-registry.ts';
import { KeyedQueue } from '../keyed-queue.ts';
import { abortIncoming, acceptIncoming, finishIncoming, migrateVm, MigrationAgentPaths, type IncomingCmd, type MigrateCmd } from './migrate.ts';
import { migrateProgress } from './migrate-progress.ts';
import { attachNic, attachVolume, detachNic, detachVolume } from './vm-devices.ts';
import { vmUuidOf, type NicTO, type StartVmCmd, type VolumeTO } from './vm-spec.ts';
import type { VmSupervisor } from './vm-supervisor.ts';

type VmCmd = { vmInstanceUuid?: string };

/**
 * The VM commands of a KVM host (the simulator's `simulator-vm` answers the same ones). Commands on
 * one VM run one at a time; stopping or destroying a VM that is not running succeeds (it is off).
 */
export function defineVmCommands(commands: CommandRegistry, sup: VmSupervisor): void {
  const queue = new KeyedQueue();
  const onVm = <C extends VmCmd>(path: string, fn: (cmd: C, ctx: CommandContext) => Promise<object | void>, opts: { sync?: boolean } = {}) =>
    commands.define(path, (cmd: C, ctx) => queue.run(`vm-${cmd.vmInstanceUuid ?? ''}`, async () => ((await fn(cmd, ctx)) ?? {}) as Record<string, unknown>), opts);

  onVm<Partial<StartVmCmd>>(VmAgentPaths.start, (cmd) => sup.start(cmd));
  onVm<VmCmd & { type?: string; timeout?: number }>(VmAgentPaths.stop, (cmd) => sup.stop(vmUuidOf(cmd.vmInstanceUuid), { type: cmd.type, timeoutSec: cmd.timeout }));
  onVm(VmAgentPaths.reboot, (cmd) => sup.reboot(String(cmd.vmInstanceUuid)));
  onVm(VmAgentPaths.pause, (cmd) => sup.pause(String(cmd.vmInstanceUuid)));
  onVm(VmAgentPaths.resume, (cmd) => sup.resume(String(cmd.vmInstanceUuid)));
  onVm(VmAgentPaths.destroy, (cmd) => sup.destroy(vmUuidOf(cmd.vmInstanceUuid)));
  onVm<MigrateCmd>(VmAgentPaths.migrate, (cmd, ctx) => migrateVm(sup, cmd, { progress: migrateProgress(ctx, cmd.vmInstanceUuid) }));
  onVm<IncomingCmd>(MigrationAgentPaths.incoming, (cmd) => acceptIncoming(sup, cmd), { sync: true });
  onVm(MigrationAgentPaths.abort, (cmd) => abortIncoming(sup, vmUuidOf(cmd.vmInstanceUuid)), { sync: true });
  onVm(MigrationAgentPaths.finish, (cmd) => finishIncoming(sup, vmUuidOf(cmd.vmInstanceUuid)), { sync: true });
  commands.define(VmAgentPaths.checkState, (cmd: { vmInstanceUuids?: string[] }) => {
    const uuids = cmd.vmInstanceUuids ?? sup.all().map((v) => v.uuid);
    // A VM still arriving by migration shows Paused; the node must know it is not one to migrate back.
    return { states: Object.fromEntries(uuids.map((u) => [u, sup.get(u)?.state ?? 'Stopped'])), arriving: uuids.filter((u) => sup.get(u)?.incoming) };
  });
  commands.define(VmAgentPaths.vmSync, () => ({
    states: Object.fromEntries(sup.all().map((v) => [v.uuid, v.state])),
    vncPorts: Object.fromEntries(sup.all().flatMap((v) => (v.vncPort ? [[v.uuid, v.vncPort]] : []))),
  }));
  onVm<VmCmd & { volume?: VolumeTO }>(VmVolumeAgentPaths.attach, (cmd) => attachVolume(sup, cmd.vmInstanceUuid, cmd.volume));
  onVm<VmCmd & { volume?: VolumeTO }>(VmVolumeAgentPaths.detach, (cmd) => detachVolume(sup, cmd.vmInstanceUuid, cmd.volume));
  onVm<VmCmd & { nic?: NicTO }>(VmNicAgentPaths.attachNic, (cmd) => attachNic(sup, cmd.vmInstanceUuid, cmd.nic));
  onVm<VmCmd & { nic?: NicTO }>(VmNicAgentPaths.detachNic, (cmd) => detachNic(sup, cmd.vmInstanceUuid, cmd.nic));
}
