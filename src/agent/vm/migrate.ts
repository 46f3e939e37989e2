import { AGENT_TOKEN_HEADER } from '../../core/agent/index.ts';
import type { StartVmCmd } from './vm-spec.ts';
import type { VmSupervisor } from './vm-supervisor.ts';

/** Agent-to-agent paths (synchronous, same token rule): the destination side of a live migration. */
export const MigrationAgentPaths = {
  incoming: '/vm/migrate/incoming',
  abort: '/vm/migrate/abort',
} as const;

export interface MigrateCmd {
  vmInstanceUuid?: string;
  destHostUuid?: string;
  /** The address the migration stream goes to (the destination QEMU listens there). */
  destHostManagementIp?: string;
  /** The destination's agent; default `http://<destHostManagementIp>:7070`. */
  destAgentUrl?: string;
  /** The destination agent's per-host token (README: the node must send it). */
  destAgentToken?: string;
}

async function postAgent<R>(url: string, token: string, body: unknown): Promise<R> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8', [AGENT_TOKEN_HEADER]: token }, body: JSON.stringify(body), signal: AbortSignal.timeout(60_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${url} answered HTTP ${res.status}: ${text}`);
  const r = JSON.parse(text) as R & { success: boolean; error?: string };
  if (!r.success) throw new Error(`${url} failed: ${r.error ?? 'no reason given'}`);
  return r;
}

/**
 * Live migration, QEMU to QEMU (as libvirt's peer-to-peer migration): the destination agent starts
 * the same VM with `-incoming` on the destination's address, the source QEMU streams its state there
 * (`migrate`, polled with `query-migrate`), then quits. The disks must be reachable at the same paths
 * on the destination (shared storage); copying local disks along is not implemented.
 */
export async function migrateVm(sup: VmSupervisor, cmd: MigrateCmd, timeoutMs = 600_000): Promise<void> {
  const vm = sup.require(cmd.vmInstanceUuid);
  if (!cmd.destHostManagementIp) throw new Error('destHostManagementIp is missing');
  if (!cmd.destAgentToken) throw new Error('destAgentToken is missing: the node must send the destination agent\'s token for a live migration');
  const destAgent = (cmd.destAgentUrl ?? `http://${cmd.destHostManagementIp}:7070`).replace(/\/$/, '');
  // The destination opens the disks from their files; the source's block node stack is its own business.
  const spec: StartVmCmd = { ...vm.spec, rootVolume: vm.spec.rootVolume && { ...vm.spec.rootVolume, overlayNodes: undefined }, dataVolumes: (vm.spec.dataVolumes ?? []).map((v) => ({ ...v, overlayNodes: undefined })) };
  const { port } = await postAgent<{ port: number }>(`${destAgent}${MigrationAgentPaths.incoming}`, cmd.destAgentToken, { vmInstanceUuid: vm.uuid, spec, listenIp: cmd.destHostManagementIp });
  try {
    await vm.qmp.execute('migrate', { uri: `tcp:${cmd.destHostManagementIp}:${port}` });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const info = await vm.qmp.execute<{ status?: string; 'error-desc'?: string }>('query-migrate');
      if (info.status === 'completed') break;
      if (info.status === 'failed' || info.status === 'cancelled') throw new Error(`migration ${info.status}: ${info['error-desc'] ?? 'no reason given'}`);
      if (Date.now() > deadline) {
        await vm.qmp.execute('migrate_cancel').catch(() => undefined);
        throw new Error(`migration did not complete within ${timeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (e) {
    await postAgent(`${destAgent}${MigrationAgentPaths.abort}`, cmd.destAgentToken, { vmInstanceUuid: vm.uuid }).catch(() => undefined);
    // the source never stopped being the VM's home: it runs on (a failed migration resumes it)
    if ((await vm.qmp.execute<{ running: boolean }>('query-status').catch(() => ({ running: true }))).running === false) await vm.qmp.execute('cont').catch(() => undefined);
    throw e;
  }
  await sup.handOver(vm.uuid);
}
