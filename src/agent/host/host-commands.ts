import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HostAgentPaths } from '../../contracts/host.ts';
import type { CommandRegistry } from '../command-registry.ts';
import type { NodeReporter } from '../node-reporter.ts';
import { hostCapacity, hostFacts, type Accel } from './host-facts.ts';

export interface HostCommandDeps {
  commands: CommandRegistry;
  reporter: NodeReporter;
  dataDir: string;
  qemuBinary: string;
  accel: Accel;
  agentVersion: string;
}

/**
 * `/host/connect` (sync) records which host this agent is and where to report, and answers the host's
 * facts plus the deployment hash the playbook left in `<data-dir>/deploy-hash` (so the node can tell
 * whether a reconnect needs a redeployment). `/host/ping` answers the host uuid it was connected as,
 * so a node pinging the wrong agent notices.
 */
export function defineHostCommands(d: HostCommandDeps): void {
  d.commands.define(HostAgentPaths.echo, () => ({}), { sync: true });
  d.commands.define(HostAgentPaths.connect, async (cmd: { hostUuid?: string; sendCommandUrl?: string }) => {
    if (!cmd.hostUuid) throw new Error('/host/connect needs hostUuid');
    d.reporter.update({ hostUuid: cmd.hostUuid, sendCommandUrl: cmd.sendCommandUrl });
    const facts = await hostFacts(d.qemuBinary, d.accel);
    return { ...facts, libvirtVersion: 'none (QEMU over QMP)', agentVersion: d.agentVersion, deployHash: deployHash(d.dataDir) };
  }, { sync: true });
  d.commands.define(HostAgentPaths.ping, () => ({ hostUuid: d.reporter.link.hostUuid ?? null, agentVersion: d.agentVersion }));
  d.commands.define(HostAgentPaths.capacity, () => hostCapacity());
}

function deployHash(dataDir: string): string | null {
  const f = join(dataDir, 'deploy-hash');
  return existsSync(f) ? readFileSync(f, 'utf8').trim() : null;
}
