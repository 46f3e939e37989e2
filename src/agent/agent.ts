import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { pino, type Logger } from 'pino';
import { CommandRegistry } from './command-registry.ts';
import { writeFileAtomic } from './files.ts';
import { defineHostCommands } from './host/host-commands.ts';
import { detectAccel } from './host/host-facts.ts';
import { AgentHttpServer } from './http-server.ts';
import { AgentMetrics } from './metrics.ts';
import { NodeReporter } from './node-reporter.ts';
import { defineVmCommands } from './vm/vm-commands.ts';
import { VmSupervisor } from './vm/vm-supervisor.ts';
import { defineLocalStorageCommands } from './storage/local-storage-commands.ts';
import { defineSnapshotCommands } from './storage/snapshot-commands.ts';
import { defineImageStoreCommands, imageFileRoute } from './imagestore/image-store-commands.ts';
import { StoreRoots } from './imagestore/store-roots.ts';
import { KeyedQueue } from './keyed-queue.ts';
import { defineNetworkCommands } from './network/network-commands.ts';
import { ConsoleRelay } from './console/console-relay.ts';
import { defineEipCommands } from './network/eip-commands.ts';
import { defineNicQosCommands } from './network/qos-commands.ts';
import { configureVlanDriver } from './network/vlan-driver.ts';
import { resumeOvsVlanPorts } from './network/bridges.ts';

export const AGENT_VERSION = '0.1.0';
/** What an agent sends (agent→node) to ask to be reconnected. */
export const RECONNECT_ME_PATH = '/kvm/reconnectme';

export interface AgentOptions {
  /** Where the agent keeps its state (VMs' pid/qmp/serial files, the node link, the token). Made absolute. */
  dataDir: string;
  port?: number;
  host?: string;
  /** The per-host token; else read from `tokenFile` (default `<dataDir>/agent-token`). */
  token?: string;
  tokenFile?: string;
  /** `auto` (default), `kvm` or `tcg`. */
  accel?: string;
  qemuBinary?: string;
  log?: Logger;
}

export interface RunningAgent {
  url: string;
  close(): Promise<void>;
}

/**
 * `strato agent`: one process per host. Listens for the node's commands, supervises its QEMUs and
 * reports to the node. State lives under the data directory, so a restarted agent finds the VMs its
 * previous life started still running and takes them over.
 */
export async function startAgent(opts: AgentOptions): Promise<RunningAgent> {
  const dataDir = resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const log = opts.log ?? pino({ name: 'strato-agent', level: process.env.STRATO_LOG_LEVEL ?? 'info' });
  const token = opts.token ?? readToken(opts.tokenFile ?? resolve(dataDir, 'agent-token'));
  const metrics = new AgentMetrics();
  const commands = new CommandRegistry();
  const reporter = new NodeReporter(dataDir, token, log, metrics);
  const qemuBinary = opts.qemuBinary ?? 'qemu-system-x86_64';
  const accel = detectAccel(opts.accel);
  configureVlanDriver(dataDir);
  defineHostCommands({ commands, reporter, dataDir, qemuBinary, accel, agentVersion: AGENT_VERSION });
  const vms = new VmSupervisor({ dataDir, qemuBinary, accel, reporter, metrics, log });
  defineVmCommands(commands, vms);
  const files = new KeyedQueue();
  defineLocalStorageCommands(commands, vms, files);
  defineSnapshotCommands(commands, vms, files);
  const storeRoots = new StoreRoots(dataDir);
  defineImageStoreCommands(commands, files, storeRoots);
  defineNetworkCommands(commands, dataDir);
  defineEipCommands(commands, dataDir);
  defineNicQosCommands(commands, vms);
  await vms.rediscover();
  // VLANs realized by the agent's own OVS come back with it (its daemons may have died with a reboot or crash).
  void resumeOvsVlanPorts().then((ports) => ports.length && log.info({ ports }, 'OVS VLAN ports resumed'), (err: unknown) => log.warn({ err }, 'could not resume the OVS VLAN ports'));
  // VNC listens on the host's loopback only: the node reaches a VM's console through this relay.
  const consoleRelay = new ConsoleRelay({ vncPortOf: (uuid) => vms.get(uuid)?.vncPort, log });

  const server = new AgentHttpServer({ host: opts.host ?? '0.0.0.0', port: opts.port ?? 7070, token, commands, metrics, log, getRoutes: [imageFileRoute(storeRoots)], upgradeRoutes: [consoleRelay], signReport: (path, body) => reporter.sign(path, body) });
  const url = await server.listen();
  const pidFile = resolve(dataDir, 'agent.pid');
  writeFileAtomic(pidFile, String(process.pid));
  log.info({ url, dataDir, accel, commands: commands.paths.length, vms: vms.all().length }, 'agent listening');
  // A restarted agent asks its node to reconnect it (ZStack's /kvm/reconnectme): facts may have changed.
  if (reporter.link.sendCommandUrl) void reporter.report(RECONNECT_ME_PATH, { reason: 'the agent restarted' });
  return {
    url,
    async close() {
      consoleRelay.closeAll();
      await server.close();
      vms.detachAll();
      // VMs keep running: they belong to the host, not to this process (a new agent takes them over).
      if (existsSync(pidFile) && readFileSync(pidFile, 'utf8') === String(process.pid)) rmSync(pidFile, { force: true });
    },
  };
}

function readToken(file: string): string {
  if (process.env.STRATO_AGENT_TOKEN) return process.env.STRATO_AGENT_TOKEN;
  if (!existsSync(file)) throw new Error(`no agent token: set STRATO_AGENT_TOKEN or write it to ${file} (the deployment does)`);
  const token = readFileSync(file, 'utf8').trim();
  if (!token) throw new Error(`the agent token file ${file} is empty`);
  return token;
}
