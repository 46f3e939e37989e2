import type { Kysely } from 'kysely';
import { ConsoleBackendPoint, type ConsoleBackend, type ConsoleTarget } from '../../contracts/console.ts';
import { HostErrors, type HostSpec } from '../../contracts/host.ts';
import { VmErrors } from '../../contracts/vm.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { ExtensionRegistry } from '../../core/plugin/index.ts';

/**
 * Where a VM's console is now, checked: the VM exists and is Running, its host is Connected and its
 * hypervisor has a console backend. Asked when a token is issued and again when it is used (the VM
 * may have stopped or migrated in between).
 *
 * Reads the vm and host services' rows directly (read-only; the known debt of docs/decisions.md).
 */
export async function consoleTargetOf(db: Kysely<any>, extensions: ExtensionRegistry, vmInstanceUuid: string): Promise<{ target: ConsoleTarget; backend: ConsoleBackend }> {
  const vm = await db.selectFrom('vm_instance').select(['uuid', 'state', 'hostUuid']).where('uuid', '=', vmInstanceUuid).executeTakeFirst();
  if (!vm) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find VmInstance[uuid:${vmInstanceUuid}]`);
  if (vm.state !== 'Running' || !vm.hostUuid) {
    throw new StratoError(VmErrors.NOT_IN_CORRECT_STATE, `VM ${vmInstanceUuid} is ${String(vm.state)}: its console opens only while it is Running`);
  }
  const host = await db.selectFrom('host').select(['uuid', 'name', 'managementIp', 'clusterUuid', 'zoneUuid', 'hypervisorType', 'agentToken', 'status']).where('uuid', '=', vm.hostUuid).executeTakeFirst();
  if (!host) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find Host[uuid:${String(vm.hostUuid)}] of VM ${vmInstanceUuid}`);
  if (host.status !== 'Connected') throw new StratoError(HostErrors.NOT_CONNECTED, `host ${String(host.uuid)} of VM ${vmInstanceUuid} is ${String(host.status)}: its console cannot be reached`);
  const backend = extensions.findStrategy(ConsoleBackendPoint, String(host.hypervisorType));
  if (!backend) {
    throw new StratoError(SysErrors.NO_CAPABILITY_ERROR, `VM ${vmInstanceUuid} runs on a ${String(host.hypervisorType)} host, which has no VM console${host.hypervisorType === 'Simulator' ? ' (simulated VMs have no display)' : ''}`);
  }
  const { status: _status, ...spec } = host;
  return { target: { vmInstanceUuid, host: spec as HostSpec }, backend };
}
