import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A pretend host: a network namespace joined to the root namespace by a veth pair on a test-only
 * /24 (10.250.N.0/24: root side .1, host .2), with its own sshd. Commands over SSH run inside the
 * namespace, so an agent deployed by Ansible through it listens there, as on a separate machine.
 * Namespaces share the filesystem: the host's files go under `dir`.
 *
 * Inside the namespace the host's link is `eth0`.
 *
 * Login is root by a key generated for the host (its `AuthorizedKeysFile` is under `dir`, so the
 * machine's own keys and passwords are never touched); password logins are enabled, so a wrong
 * password is refused by sshd for real.
 *
 * @example
 *   const h = await createPretendHost();
 *   // AddKVMHost managementIp=h.ip username=root sshPrivateKey=h.privateKey
 *   await h.destroy();
 */
export interface PretendHost {
  name: string;
  ip: string;
  /** The root namespace's address on the host's link (where the node is reached from the host). */
  gatewayIp: string;
  sshPort: number;
  /** An OpenSSH private key root logs in with. */
  privateKey: string;
  dir: string;
  /** Run a command inside the namespace. */
  exec(cmd: string, args: string[]): Promise<{ stdout: string; stderr: string }>;
  /** PIDs of the processes in the namespace (sshd included). */
  pids(): Promise<number[]>;
  destroy(): Promise<void>;
}

const sh = (cmd: string, args: string[]) => run(cmd, args, { maxBuffer: 16 * 1024 * 1024 });

async function usedSubnets(): Promise<Set<number>> {
  const { stdout } = await sh('ip', ['-o', '-4', 'addr', 'show']);
  return new Set([...stdout.matchAll(/inet 10\.250\.(\d+)\./g)].map((m) => Number(m[1])));
}

async function pickSubnet(): Promise<number> {
  const used = await usedSubnets();
  for (let i = 0; i < 50; i++) {
    const n = 1 + Math.floor(Math.random() * 250);
    if (!used.has(n)) return n;
  }
  throw new Error('no free 10.250.N.0/24 test subnet');
}

export async function createPretendHost(opts: { sshPort?: number } = {}): Promise<PretendHost> {
  const n = await pickSubnet();
  const tag = `${process.pid.toString(36)}${n.toString(36)}`.slice(-7);
  const name = `strato-ph-${tag}`;
  const vethRoot = `vphr${tag}`;
  const vethHost = `vphh${tag}`;
  const ip = `10.250.${n}.2`;
  const gatewayIp = `10.250.${n}.1`;
  const sshPort = opts.sshPort ?? 22;
  const dir = await mkdtemp(join(tmpdir(), 'strato-test-ph-'));
  let sshd: ChildProcess | undefined;
  const destroy = async () => {
    if (sshd?.pid) {
      sshd.kill('SIGKILL');
    }
    // Whatever still runs in the namespace (an agent the test left) goes with it.
    const left = await sh('ip', ['netns', 'pids', name]).then((r) => r.stdout.split(/\s+/).filter(Boolean).map(Number), () => [] as number[]);
    for (const pid of left) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await sh('ip', ['link', 'del', vethRoot]).catch(() => undefined);
    await sh('ip', ['netns', 'del', name]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await sh('ip', ['netns', 'add', name]);
    await sh('ip', ['link', 'add', vethRoot, 'type', 'veth', 'peer', 'name', vethHost]);
    await sh('ip', ['link', 'set', vethHost, 'netns', name]);
    await sh('ip', ['addr', 'add', `${gatewayIp}/24`, 'dev', vethRoot]);
    await sh('ip', ['link', 'set', vethRoot, 'up']);
    // Inside, the link is `eth0` as on a real machine: an L2 network's physicalInterface names it.
    await sh('ip', ['-n', name, 'link', 'set', vethHost, 'name', 'eth0']);
    await sh('ip', ['-n', name, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    await sh('ip', ['-n', name, 'link', 'set', 'eth0', 'up']);
    await sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    await sh('ip', ['-n', name, 'route', 'add', 'default', 'via', gatewayIp]);

    await sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'hostkey')]);
    await sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id')]);
    await writeFile(join(dir, 'authorized_keys'), await readFile(join(dir, 'id.pub')), { mode: 0o600 });
    const config = [
      `ListenAddress ${ip}`, `Port ${sshPort}`, `HostKey ${join(dir, 'hostkey')}`, `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`, 'PermitRootLogin yes', 'PasswordAuthentication yes',
      'KbdInteractiveAuthentication no', 'UsePAM no', 'StrictModes no', 'MaxStartups 50', 'Subsystem sftp internal-sftp',
    ].join('\n');
    await writeFile(join(dir, 'sshd_config'), `${config}\n`);
    // sshd's privilege separation directory; shared by every sshd on the machine, so it is never removed.
    await sh('mkdir', ['-p', '/run/sshd']);
    sshd = spawn('ip', ['netns', 'exec', name, '/usr/sbin/sshd', '-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    sshd.stderr!.on('data', (d) => (err += String(d)));
    await waitForPort(name, ip, sshPort, () => err);
  } catch (e) {
    await destroy();
    throw e;
  }
  return {
    name, ip, gatewayIp, sshPort, dir,
    privateKey: await readFile(join(dir, 'id'), 'utf8'),
    exec: (cmd, args) => sh('ip', ['netns', 'exec', name, cmd, ...args]),
    pids: async () => (await sh('ip', ['netns', 'pids', name])).stdout.split(/\s+/).filter(Boolean).map(Number),
    destroy,
  };
}

async function waitForPort(ns: string, ip: string, port: number, log: () => string): Promise<void> {
  const started = Date.now();
  for (;;) {
    const ok = await sh('ip', ['netns', 'exec', ns, 'nc', '-z', '-w', '1', ip, String(port)]).then(() => true, () => false);
    if (ok) return;
    if (Date.now() - started > 15_000) throw new Error(`sshd in ${ns} did not listen on ${ip}:${port}: ${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
