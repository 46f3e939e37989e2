import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { AGENT_CALLBACK_PATH, AgentClient, verifyReport, type AgentEndpoint } from '../../src/core/agent/index.ts';
import { AGENT_SEND_COMMAND_PATH } from '../../src/contracts/vm.ts';

const REPO = resolve(import.meta.dirname, '../..');

/**
 * Whether agent tests can run here: they need root (network namespaces, taps) and `ip`. Says why when not.
 * Under CI (`CI` set) a suite that cannot run fails instead of passing skipped.
 */
export function canRunAgentTests(...commands: string[]): boolean {
  const missing = ['ip', ...commands].filter((c) => !hasCommand(c));
  let why: string;
  if (process.getuid?.() !== 0) why = 'agent tests need root (network namespaces, taps, bridges)';
  else if (missing.length) why = `agent tests need ${missing.join(', ')} (scripts/install-host-packages.sh installs them)`;
  else return true;
  if (process.env.CI) throw new Error(`${why}; CI is set, so they fail instead of being skipped`);
  console.warn(`SKIPPED ${why}`);
  return false;
}

export function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function sh(args: string[]): void {
  execFileSync(args[0], args.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A report the agent POSTed to the node's sendcommand path. */
export interface Report {
  commandPath: string;
  body: Record<string, unknown>;
  /** The uuid whose signature checked out against this host's token (as the node verifies it), else undefined. */
  signedBy?: string;
}

/**
 * A pretend host for agent tests: a network namespace joined to the root namespace by a veth in a
 * test-only /24 (10.251.N.0/24: root .1, host .2), a real `strato agent` child process inside it,
 * and a small node side in the root namespace: an AgentClient and an HTTP server taking its callbacks
 * and the agent's reports, as a management node does.
 */
export class PretendAgentHost {
  readonly ns: string;
  readonly subnet: number;
  readonly dataDir: string;
  readonly token = `token-${Math.random().toString(36).slice(2)}`;
  readonly client = new AgentClient({ defaultTimeoutMs: 120_000 });
  readonly reports: Report[] = [];
  agent: ChildProcess | undefined;
  #server: Server | undefined;
  #veth: string;

  constructor() {
    const id = Math.random().toString(36).slice(2, 8);
    this.ns = `sta-${id}`;
    this.#veth = `sta${id}`;
    this.subnet = 1 + Math.floor(Math.random() * 250);
    this.dataDir = mkdtempSync('/tmp/strato-test-agent-');
  }

  get hostIp(): string {
    return `10.251.${this.subnet}.2`;
  }

  get nodeIp(): string {
    return `10.251.${this.subnet}.1`;
  }

  get endpoint(): AgentEndpoint {
    return { url: `http://${this.hostIp}:7070`, token: this.token };
  }

  async setUp(): Promise<void> {
    sh(['ip', 'netns', 'add', this.ns]);
    sh(['ip', 'link', 'add', this.#veth, 'type', 'veth', 'peer', 'name', `${this.#veth}h`]);
    sh(['ip', 'link', 'set', `${this.#veth}h`, 'netns', this.ns]);
    sh(['ip', '-n', this.ns, 'link', 'set', `${this.#veth}h`, 'name', 'eth0']);
    sh(['ip', 'addr', 'add', `${this.nodeIp}/24`, 'dev', this.#veth]);
    sh(['ip', 'link', 'set', this.#veth, 'up']);
    sh(['ip', '-n', this.ns, 'addr', 'add', `${this.hostIp}/24`, 'dev', 'eth0']);
    sh(['ip', '-n', this.ns, 'link', 'set', 'eth0', 'up']);
    sh(['ip', '-n', this.ns, 'link', 'set', 'lo', 'up']);
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
        if (req.url === AGENT_CALLBACK_PATH) {
          res.writeHead(this.client.handleCallback(req.headers, body)).end('{}');
        } else if (req.url === AGENT_SEND_COMMAND_PATH) {
          const commandPath = String(req.headers.commandpath);
          void verifyReport({ headers: req.headers, commandPath, body: text, tokenOf: async () => this.token }).then((v) => {
            this.reports.push({ commandPath, body, signedBy: v.ok ? v.agentUuid : undefined });
            res.writeHead(200, { 'content-type': 'application/json' }).end('{"success":true}');
          });
        } else res.writeHead(404).end();
      });
    });
    this.#server = server;
    await new Promise<void>((r) => server.listen(0, this.nodeIp, r));
    const port = (server.address() as AddressInfo).port;
    this.client.setCallbackUrl(`http://${this.nodeIp}:${port}${AGENT_CALLBACK_PATH}`);
  }

  /** Runs a command inside the pretend host's namespace; returns stdout. */
  inNs(args: string[]): string {
    return execFileSync('ip', ['netns', 'exec', this.ns, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /** A spare interface in the namespace (a veth whose peer stays there too): a NoVlan bridge's physical interface. */
  addInterface(name: string): void {
    sh(['ip', '-n', this.ns, 'link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}p`]);
    sh(['ip', '-n', this.ns, 'link', 'set', name, 'up']);
    sh(['ip', '-n', this.ns, 'link', 'set', `${name}p`, 'up']);
  }

  /** The link's master bridge in the namespace, or undefined when the link or master is absent. */
  linkMaster(name: string): string | undefined | null {
    try {
      const [link] = JSON.parse(this.inNs(['ip', '-j', 'link', 'show', name])) as Array<{ master?: string }>;
      return link.master ?? null;
    } catch {
      return undefined;
    }
  }

  get sendCommandUrl(): string {
    return this.client.callbackUrl.replace(/callback$/, 'sendcommand');
  }

  /** Starts `strato agent` in the namespace and waits until it answers `/host/echo`. */
  async startAgent(opts: { listen?: string; env?: Record<string, string> } = {}): Promise<void> {
    const log = createWriteStream(join(this.dataDir, `agent-${Date.now()}.log`));
    const child = spawn('ip', ['netns', 'exec', this.ns, process.execPath, join(REPO, 'bin/strato.js'), 'agent', '--port', '7070', '--host', opts.listen ?? this.hostIp, '--data-dir', this.dataDir], {
      env: { ...process.env, ...opts.env, STRATO_AGENT_TOKEN: this.token },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.pipe(log);
    child.stderr.pipe(log);
    this.agent = child;
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the agent exited with ${child.exitCode}: ${this.agentLog()}`);
      try {
        await this.client.callSync(this.endpoint, '/host/echo', {}, { timeoutMs: 2000 });
        return;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  agentLog(): string {
    return readdirSync(this.dataDir).filter((f) => f.startsWith('agent-') && f.endsWith('.log')).sort().map((f) => readFileSync(join(this.dataDir, f), 'utf8')).join('\n');
  }

  /** Stops the agent process (by PID) and waits for it to exit; its VMs keep running. */
  async stopAgent(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.agent;
    this.agent = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await exited;
  }

  /** Kills the agent and every QEMU it left (pid files under its data dir), removes the namespace and files. */
  async tearDown(): Promise<void> {
    await this.stopAgent('SIGKILL').catch(() => undefined);
    // QEMUs, the Open vSwitch daemons a VLAN port made and the DHCP servers of its L3s (they outlive the
    // agent by design, like QEMU; a test that failed before its VM's expunge left a dnsmasq running)
    for (const pid of [...qemuPids(this.dataDir), ...ovsPids(this.dataDir), ...dnsmasqPids(this.dataDir)]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    this.client.close();
    await new Promise<void>((r) => (this.#server ? this.#server.close(() => r()) : r()));
    try {
      sh(['ip', 'netns', 'del', this.ns]);
    } catch {
      /* never made */
    }
    try {
      sh(['ip', 'link', 'del', this.#veth]);
    } catch {
      /* went with the namespace */
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** PIDs of the agent's own Open vSwitch daemons (`<data-dir>/ovs/*.pid`), if a VLAN port started them. */
function ovsPids(dataDir: string): number[] {
  const dir = join(dataDir, 'ovs');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.pid')).map((f) => Number(readFileSync(join(dir, f), 'utf8').trim())).filter((n) => Number.isInteger(n) && n > 0);
}

/** PIDs of the agent's dnsmasq servers (`<data-dir>/dhcp/<l3>/dnsmasq.pid`). */
function dnsmasqPids(dataDir: string): number[] {
  const dir = join(dataDir, 'dhcp');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((l3) => {
    const f = join(dir, l3, 'dnsmasq.pid');
    return existsSync(f) ? [Number(readFileSync(f, 'utf8').trim())].filter((n) => Number.isInteger(n) && n > 0) : [];
  });
}

/** PIDs recorded by the agent for its QEMUs (`<data-dir>/vms/<uuid>/qemu.pid`). */
export function qemuPids(dataDir: string): number[] {
  const vms = join(dataDir, 'vms');
  if (!existsSync(vms)) return [];
  return readdirSync(vms).flatMap((d) => {
    const f = join(vms, d, 'qemu.pid');
    return existsSync(f) ? [Number(readFileSync(f, 'utf8').trim())].filter((n) => n > 0) : [];
  });
}

/** Polls `check` until it returns a truthy value; throws with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 60_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Waits until a serial log holds `marker`. */
export function waitForSerial(logFile: string, marker: string | RegExp, timeoutMs = 60_000): Promise<string> {
  return waitFor(`${String(marker)} in ${logFile}`, () => {
    const text = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
    return (typeof marker === 'string' ? text.includes(marker) : marker.test(text)) ? text : '';
  }, timeoutMs);
}

/** An underlay link between two pretend hosts (a veth pair, one end in each namespace): `eth9`, 10.252.N.1 and .2. */
export function linkHosts(a: PretendAgentHost, b: PretendAgentHost): { aIp: string; bIp: string } {
  const n = 1 + Math.floor(Math.random() * 250);
  const id = Math.random().toString(36).slice(2, 8);
  sh(['ip', 'link', 'add', `stu${id}a`, 'type', 'veth', 'peer', 'name', `stu${id}b`]);
  sh(['ip', 'link', 'set', `stu${id}a`, 'netns', a.ns]);
  sh(['ip', 'link', 'set', `stu${id}b`, 'netns', b.ns]);
  for (const [h, end, ip] of [[a, `stu${id}a`, `10.252.${n}.1`], [b, `stu${id}b`, `10.252.${n}.2`]] as const) {
    sh(['ip', '-n', h.ns, 'link', 'set', end, 'name', 'eth9']);
    sh(['ip', '-n', h.ns, 'addr', 'add', `${ip}/24`, 'dev', 'eth9']);
    sh(['ip', '-n', h.ns, 'link', 'set', 'eth9', 'up']);
  }
  return { aIp: `10.252.${n}.1`, bIp: `10.252.${n}.2` };
}
