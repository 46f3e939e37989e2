import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, normalize, relative, resolve } from 'node:path';
import { StratoError, SysErrors } from '../errors/index.ts';
import { runPlaybook } from './playbook-runner.ts';
import { sshCommand } from './ssh-command.ts';
import type { AgentClient, AgentResponse } from '../agent/index.ts';
import type { SshLogin } from './ssh-login.ts';

/** The repository: the agent program the playbook starts (`bin/strato.js agent`) and `deploy/`. */
export const STRATO_ROOT = resolve(import.meta.dirname, '../../..');
export const DEPLOY_DIR = join(STRATO_ROOT, 'deploy');
const PLAYBOOK = join(DEPLOY_DIR, 'strato-agent.yml');
const NODE_BIN = '/usr/bin/node';

export type AgentRole = 'kvm' | 'backup-storage';

/** One agent to deploy: where, as what, with which token. */
export interface AgentDeployment {
  role: AgentRole;
  /** The host's (or backup storage's) uuid: what the agent is told it serves. */
  ownerUuid: string;
  login: SshLogin;
  dataDir: string;
  port: number;
  token: string;
}

function filesUnder(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? (n === 'node_modules' ? [] : filesUnder(p)) : [p];
  });
}

let programHash: string | undefined;

/**
 * The version of what this node deploys: the playbook and roles, the agent's code and the packages
 * it pins. Computed once per process: a running node ships the program it started with, so an edit
 * on disk while it runs does not make every reconnect redeploy.
 */
function deployedProgramHash(): string {
  if (programHash) return programHash;
  const h = createHash('sha256');
  const files = [...filesUnder(DEPLOY_DIR), ...['src/agent', 'src/core', 'src/contracts'].flatMap((d) => filesUnder(join(STRATO_ROOT, d))), join(STRATO_ROOT, 'package.json'), join(STRATO_ROOT, 'package-lock.json')];
  for (const f of files) {
    if (f.endsWith('.test.ts')) continue;
    h.update(relative(STRATO_ROOT, f)).update('\0');
    try {
      h.update(readFileSync(f));
    } catch {
      /* a file removed while we read: its name still counts */
    }
    h.update('\0');
  }
  programHash = h.digest('hex');
  return programHash;
}

/** The hash the playbook records on the host: program, role, configuration (the token through its own hash). */
export function deploymentHashOf(d: AgentDeployment): string {
  const config = { role: d.role, dataDir: d.dataDir, port: d.port, listen: '0.0.0.0', token: createHash('sha256').update(d.token).digest('hex'), root: STRATO_ROOT, node: NODE_BIN };
  return createHash('sha256').update(deployedProgramHash()).update(JSON.stringify(config)).digest('hex');
}

/**
 * The directory of one agent under a root: a short prefix of its owner's uuid, because QEMU's QMP and
 * serial sockets live below it (`<dir>/vms/<vm uuid>/qmp.sock`) and a unix socket path must stay
 * under 108 bytes. Pretend hosts share one filesystem, so each agent still needs its own directory.
 */
export function agentDataDirOf(rootDir: string, ownerUuid: string, prefix = ''): string {
  return `${rootDir.replace(/\/+$/, '')}/${prefix}${ownerUuid.slice(0, 12)}`;
}

/** A data directory we may `rm -rf`: absolute, normalized, at least two levels deep, no quotes. */
function checkedDir(dir: string): string {
  const n = normalize(dir);
  if (!isAbsolute(n) || n.split('/').filter(Boolean).length < 2 || /['"\\\s]/.test(n)) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `unsafe agent data directory [${dir}]`);
  return n.replace(/\/+$/, '');
}

/** Every role's tasks: the play announces the skipped role's tasks too, so all count for the percentage. */
const TOTAL_TASKS = ['kvm-host', 'backup-storage', 'agent'].reduce((n, r) => n + (readFileSync(join(DEPLOY_DIR, 'roles', r, 'tasks', 'main.yml'), 'utf8').match(/^- name:/gm)?.length ?? 0), 0);

/**
 * Whether the host already runs this very deployment: its agent answers `/host/connect` with our token
 * and reports the hash the playbook recorded (`deployHash`). Any doubt (unreachable, refused, another
 * hash) answers false, and the caller redeploys.
 */
export async function isDeployed(d: AgentDeployment, agents: AgentClient): Promise<boolean> {
  try {
    const r = await agents.callSync<AgentResponse & { deployHash?: string | null }>({ url: `http://${d.login.address}:${d.port}`, token: d.token }, '/host/connect', { hostUuid: d.ownerUuid, sendCommandUrl: agents.callbackUrl.replace(/callback$/, 'sendcommand') }, { timeoutMs: 15_000 });
    return r.deployHash === deploymentHashOf(d);
  } catch {
    return false;
  }
}

/** Runs the playbook for this agent (idempotent: an unchanged, running agent is left alone). */
export async function deployAgent(d: AgentDeployment, onProgress?: (percent: number, task: string) => void): Promise<void> {
  const dir = checkedDir(d.dataDir);
  await runPlaybook({
    playbook: PLAYBOOK,
    login: d.login,
    totalTasks: TOTAL_TASKS,
    onProgress,
    vars: {
      strato_role: d.role, strato_root: STRATO_ROOT, node_bin: NODE_BIN, agent_data_dir: dir, agent_port: d.port, agent_listen: '0.0.0.0', agent_check_host: d.login.address,
      agent_token: d.token, deployment_hash: deploymentHashOf(d),
      // Ansible's own files on the host go under the agent's directory, so removing it leaves nothing.
      ansible_remote_tmp: `${dir}/.ansible-tmp`,
    },
  });
}

/** Stops the agent (by its pid file only) and removes its directory. Throws when the host cannot be reached. */
export async function removeAgent(login: SshLogin, dataDir: string): Promise<void> {
  const dir = checkedDir(dataDir);
  // The agent's own Open vSwitch (VLAN L2s without 802.1Q, src/agent/network/ovs.ts) outlives it: stopped here too.
  const ovs = `for d in ovs-vswitchd ovsdb-server; do if [ -e '${dir}/ovs/'$d.pid ]; then start-stop-daemon --stop --oknodo --pidfile '${dir}/ovs/'$d.pid --retry TERM/5/KILL/5; fi; done`;
  const r = await sshCommand(login, `if [ -e '${dir}/agent.pid' ]; then start-stop-daemon --stop --oknodo --pidfile '${dir}/agent.pid' --exec ${NODE_BIN} --remove-pidfile --retry TERM/10/KILL/5; fi; ${ovs}; rm -rf -- '${dir}'`, 60_000);
  if (r.code !== 0) throw new StratoError(SysErrors.OPERATION_ERROR, `removing the agent in ${dir} on ${login.address} failed: ${r.stderr.trim()}`);
}
