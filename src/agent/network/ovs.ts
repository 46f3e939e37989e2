import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { exec } from '../exec.ts';
import { KeyedQueue } from '../keyed-queue.ts';
import { pidFromFile, processRuns } from '../process-alive.ts';

/**
 * Open vSwitch for VLAN L2 networks on hosts whose kernel cannot make 802.1Q devices (or when the
 * agent is told to use it). The agent runs its own ovsdb-server and ovs-vswitchd with the userspace
 * (`netdev`) datapath, so no kernel module is needed; their state lives in `<data-dir>/ovs/` and they
 * outlive the agent, as dnsmasq does. With the netdev datapath the daemons own the ports of the network
 * namespace they were started in: the agent's.
 *
 * A VLAN device `<iface>.<vid>` becomes an OVS internal port with `tag=<vid>` (an access port) on the
 * OVS bridge `ovs_<iface>`, whose port `<iface>` is a trunk carrying every VLAN tagged. Everything
 * above it is unchanged: the Linux bridge `br_<iface>_<vid>` takes the internal port as the kernel's
 * `<iface>.<vid>`, and taps, DHCP namespaces, EIPs and security groups stay on that Linux bridge.
 * Only the trunk is read by AF_PACKET (where the netdev datapath does not complete partial
 * checksums); every frame reaching it was already finished by a kernel device or by the other side's OVS.
 */
export class OvsSwitch {
  readonly dir: string;
  readonly #queue = new KeyedQueue();

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'ovs');
  }

  get db(): string {
    return `unix:${join(this.dir, 'db.sock')}`;
  }

  /** `ovs-vsctl` on our database (waits until ovs-vswitchd applied the change unless `--no-wait` is given). */
  vsctl(args: string[]): Promise<string> {
    return exec('ovs-vsctl', [`--db=${this.db}`, '--timeout=30', ...args]);
  }

  /**
   * Whether our `ovsdb-server` or `ovs-vswitchd` runs: the process of its pid file, given that pid file
   * (not a zombie left by a killed daemon, which would otherwise leave the host without a switch).
   */
  daemonRuns(daemon: 'ovsdb-server' | 'ovs-vswitchd'): boolean {
    const pidFile = join(this.dir, `${daemon}.pid`);
    return processRuns(pidFromFile(pidFile), `--pidfile=${pidFile}`);
  }

  /** Starts ovsdb-server and ovs-vswitchd under `dir` unless both already run (one at a time). */
  ensureRunning(): Promise<void> {
    return this.#queue.run('daemons', () => this.#start());
  }

  async #start(): Promise<void> {
    const dbAlive = this.daemonRuns('ovsdb-server');
    if (dbAlive && this.daemonRuns('ovs-vswitchd')) return;
    mkdirSync(this.dir, { recursive: true });
    const conf = join(this.dir, 'conf.db');
    if (!dbAlive) {
      if (!existsSync(conf)) await exec('ovsdb-tool', ['create', conf, await schemaPath()]);
      await exec('ovsdb-server', [conf, `--remote=punix:${join(this.dir, 'db.sock')}`, `--pidfile=${join(this.dir, 'ovsdb-server.pid')}`, `--unixctl=${join(this.dir, 'ovsdb-server.ctl')}`, '--detach', '--no-chdir', `--log-file=${join(this.dir, 'ovsdb-server.log')}`, '-vconsole:off']);
      await this.vsctl(['--no-wait', 'init']);
    }
    await exec('ovs-vswitchd', [this.db, `--pidfile=${join(this.dir, 'ovs-vswitchd.pid')}`, `--unixctl=${join(this.dir, 'ovs-vswitchd.ctl')}`, '--detach', '--no-chdir', `--log-file=${join(this.dir, 'ovs-vswitchd.log')}`, '-vconsole:off']);
  }

  /**
   * The access port `<iface>.<vid>` (an internal port, tag=vid) on `ovs_<iface>` with `<iface>` as its
   * trunk; idempotent. Leaves the device up, ready to be put in a Linux bridge.
   */
  async ensureVlanPort(iface: string, vlan: number, device: string): Promise<void> {
    await this.ensureRunning();
    const bridge = ovsBridgeName(iface);
    await this.#queue.run(bridge, async () => {
      await this.vsctl(['--may-exist', 'add-br', bridge, '--', 'set', 'bridge', bridge, 'datapath_type=netdev']);
      await this.vsctl(['--may-exist', 'add-port', bridge, iface]);
      await this.vsctl(['--may-exist', 'add-port', bridge, device, `tag=${vlan}`, '--', 'set', 'interface', device, 'type=internal']);
    });
    await exec('ip', ['link', 'set', iface, 'up']);
    await exec('ip', ['link', 'set', device, 'up']);
  }

  /** Whether this agent ever used OVS (its database exists): then it should run. */
  get used(): boolean {
    return existsSync(join(this.dir, 'conf.db'));
  }

  /** The access ports (`<iface>.<vid>`) of every OVS bridge. */
  async vlanPorts(): Promise<string[]> {
    const bridges = (await this.vsctl(['list-br'])).split('\n').filter(Boolean);
    const ports = await Promise.all(bridges.map(async (b) => (await this.vsctl(['list-ports', b])).split('\n').filter(Boolean)));
    return ports.flat().filter((p) => /\.\d{1,4}$/.test(p));
  }

  /** The VLAN (tag) of an OVS port, or undefined when the port is not ours. */
  async tagOf(port: string): Promise<number | undefined> {
    try {
      const out = (await this.vsctl(['get', 'port', port, 'tag'])).trim();
      return /^\d+$/.test(out) ? Number(out) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Stops both daemons (by their pid files); the database stays for the next start. */
  async stop(): Promise<void> {
    for (const d of ['ovs-vswitchd', 'ovsdb-server'] as const) {
      const pid = pidFromFile(join(this.dir, `${d}.pid`));
      if (pid && this.daemonRuns(d)) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          /* gone */
        }
      }
    }
  }
}

/** `ovs_<iface>`, at most 15 characters (a Linux device name: the bridge's own internal port). */
export const ovsBridgeName = (iface: string) => `ovs_${iface}`.slice(0, 15);

/** Whether this host can run the userspace OVS: its three programs are installed. */
export async function ovsInstalled(): Promise<boolean> {
  for (const p of ['ovsdb-server', 'ovs-vswitchd', 'ovs-vsctl']) {
    try {
      await exec('sh', ['-c', `command -v ${p}`]);
    } catch {
      return false;
    }
  }
  return true;
}

async function schemaPath(): Promise<string> {
  for (const p of ['/usr/share/openvswitch/vswitch.ovsschema', '/usr/local/share/openvswitch/vswitch.ovsschema']) if (existsSync(p)) return p;
  throw new Error('Open vSwitch is installed without its schema (vswitch.ovsschema)');
}
