import { VmErrors, type VmState } from '../../contracts/vm.ts';
import { StratoError } from '../../core/errors/index.ts';

/**
 * Which states allow which operation (ZStack's AbstractVmInstance.allowedOperations), keyed by the
 * API message class name that ZStack's error message quotes.
 */
const ALLOWED: Record<string, readonly VmState[]> = {
  StartVmInstance: ['Running', 'Stopped', 'Crashed'],
  StopVmInstance: ['Running', 'Stopped', 'Paused', 'Unknown', 'Crashed'],
  RebootVmInstance: ['Running', 'Crashed'],
  PauseVmInstance: ['Running'],
  ResumeVmInstance: ['Paused'],
  DestroyVmInstance: ['Running', 'Stopped', 'Paused', 'Unknown', 'Crashed', 'Stopping', 'Rebooting', 'Pausing', 'Resuming', 'Created'],
  RecoverVmInstance: ['Destroyed'],
  ExpungeVmInstance: ['Destroyed'],
  MigrateVm: ['Running', 'Paused', 'Unknown'],
};

/** Throws ZStack's VM.1010 with its wording when `state` does not allow the operation. */
export function checkState(operation: keyof typeof ALLOWED & string, vm: { uuid: string; state: string }): void {
  const allowed = ALLOWED[operation];
  if (allowed.includes(vm.state as VmState)) return;
  throw new StratoError(VmErrors.NOT_IN_CORRECT_STATE, `current vm instance state[${vm.state}] doesn't allow to proceed message[org.zstack.header.vm.API${operation}Msg], allowed states are [${allowed.join(', ')}]`);
}

/** States in which the VM holds capacity on its host (its `hostUuid` is set). */
export const ON_HOST_STATES: readonly VmState[] = ['Starting', 'Running', 'Stopping', 'Rebooting', 'Pausing', 'Paused', 'Resuming', 'Migrating', 'Unknown', 'Crashed'];
