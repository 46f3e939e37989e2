import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * What `strato serve --all-in-one` does to this machine before it adds it as its own KVM host, so that
 * the quick start needs nothing else: the host packages, a loopback-only sshd the node logs in to with a
 * key of its own, the flat network's isolated interface, and the built-in image. Each step is idempotent.
 */

const ROOT = resolve(import.meta.dirname, '../..');
const SCRIPTS = join(ROOT, 'scripts');

/** Where the all-in-one keeps its key, its sshd's files and state: `$STRATO_HOME`, else `~/.strato`. */
export function stratoHome(): string {
  return resolve(process.env.STRATO_HOME ?? join(homedir(), '.strato'));
}

function run(file: string, args: string[], what: string): string {
  const r = spawnSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`${what}: ${file} ${args.join(' ')} failed: ${(r.stderr || r.stdout || String(r.error ?? '')).trim()}`);
  return r.stdout;
}

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0 || existsSync(cmd);

/** The programs the agent, the deployment and the tiny guest need; scripts/install-host-packages.sh installs them. */
const NEEDED = ['qemu-system-x86_64', 'qemu-img', 'ansible-playbook', '/usr/sbin/sshd', 'ssh-keygen', 'dnsmasq', 'ip', 'iptables', 'mcopy', 'syslinux', 'cpio'];

export function ensureHostPackages(log: (line: string) => void): void {
  const missing = NEEDED.filter((c) => !has(c));
  if (!missing.length) return;
  if (process.getuid?.() !== 0) throw new Error(`the all-in-one needs ${missing.join(', ')}: run it as root (it installs them), or run scripts/install-host-packages.sh as root first`);
  log(`  All-in-one: installing host packages (${missing.join(', ')} missing)…`);
  run('apt-get', ['update', '-qq'], 'installing host packages');
  run('bash', [join(SCRIPTS, 'install-host-packages.sh')], 'installing host packages');
  if (missing.includes('/usr/sbin/sshd')) {
    // openssh-server came for its sshd program only: Debian starts (and enables) its own sshd on every
    // address, port 22, which this machine did not have. The all-in-one runs its own on loopback instead.
    if (spawnSync('systemctl', ['disable', '--now', 'ssh.service', 'ssh.socket'], { stdio: 'ignore' }).status !== 0 && existsSync('/etc/init.d/ssh')) spawnSync('/etc/init.d/ssh', ['stop'], { stdio: 'ignore' });
  }
}

export interface LoopbackSsh {
  port: number;
  username: string;
  privateKeyFile: string;
}

/**
 * The pid of the all-in-one sshd that `config` started, if it runs: the pid file alone is not enough
 * (after a reboot or a crash its pid may be another process's, which must be neither trusted nor killed).
 */
function sshdPidOf(pidFile: string, config: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    // argv, or (OpenSSH's listener retitles itself) one string: "sshd: /usr/sbin/sshd -f <config> [listener] …"
    const cmd = `${readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ')} `;
    return cmd.includes('sshd') && cmd.includes(` -f ${config} `) ? pid : undefined;
  } catch {
    return undefined; // gone
  }
}

/**
 * Stops the all-in-one sshd (the node stops: nothing logs in to this machine without it) and returns once
 * it is gone and its pid file too: SIGTERM (sshd removes its pid file; open sessions, none of the node's
 * outliving it, go on), SIGKILL after 5 s. Idempotent. Synchronous: it runs as the node's process exits.
 */
export function stopLoopbackSshd(home: string): void {
  const pidFile = join(home, 'sshd.pid');
  const config = join(home, 'sshd_config');
  const pid = sshdPidOf(pidFile, config);
  if (pid) {
    process.kill(pid, 'SIGTERM');
    const pause = new Int32Array(new SharedArrayBuffer(4));
    for (let i = 0; i < 100 && sshdPidOf(pidFile, config) === pid; i++) Atomics.wait(pause, 0, 0, 50);
    if (sshdPidOf(pidFile, config) === pid) process.kill(pid, 'SIGKILL');
  }
  rmSync(pidFile, { force: true });
}

/**
 * A dedicated sshd for the node's own logins to this machine: listening on 127.0.0.1 only, key-only
 * (no passwords, no PAM), accepting one key, generated here, and only from 127.0.0.1. It leaves the
 * machine's own sshd and its configuration alone. Runs as a daemon (`<home>/sshd.pid`) while the node
 * runs (it logs in again when it reconnects the host or redeploys the agent); `stopLoopbackSshd` ends it.
 */
export function ensureLoopbackSshd(home: string, port: number, log: (line: string) => void): LoopbackSsh {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  chmodSync(home, 0o700);
  const username = userInfo().username;
  const key = join(home, 'id_ed25519');
  if (!existsSync(key)) run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'strato-all-in-one', '-f', key], 'making the node\'s SSH key');
  const hostKey = join(home, 'ssh_host_ed25519_key');
  if (!existsSync(hostKey)) run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'strato-all-in-one-sshd', '-f', hostKey], 'making the sshd host key');
  const authorized = join(home, 'authorized_keys');
  writeFileSync(authorized, `from="127.0.0.1,::1",no-agent-forwarding,no-X11-forwarding ${readFileSync(`${key}.pub`, 'utf8').trim()}\n`, { mode: 0o600 });
  const pidFile = join(home, 'sshd.pid');
  const config = join(home, 'sshd_config');
  writeFileSync(config, [
    '# Written by strato serve --all-in-one: the node\'s own logins to this machine (key only, loopback only).',
    'ListenAddress 127.0.0.1',
    `Port ${port}`,
    `HostKey ${hostKey}`,
    `PidFile ${pidFile}`,
    `AuthorizedKeysFile ${authorized}`,
    `AllowUsers ${username}`,
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    // The files above are the node's, made 0600 here; STRATO_HOME may sit under a world-writable /tmp.
    'StrictModes no',
    'X11Forwarding no',
    'AllowTcpForwarding no',
    'Subsystem sftp internal-sftp',
    '',
  ].join('\n'), { mode: 0o600 });
  if (!sshdPidOf(pidFile, config)) {
    // Debian's sshd wants its privilege-separation directory, which only the ssh service usually makes.
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    run('/usr/sbin/sshd', ['-f', config], `starting the all-in-one sshd on 127.0.0.1:${port}`);
    log(`  All-in-one: sshd for the node's logins on 127.0.0.1:${port} (key ${key}, root login by key only, from 127.0.0.1 only)`);
  }
  // The proof that matters: the key logs in.
  const r = spawnSync('ssh', ['-i', key, '-p', String(port), '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=10', '--', `${username}@127.0.0.1`, 'true'], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`the all-in-one sshd on 127.0.0.1:${port} does not take the node's key (${(r.stderr ?? '').trim() || `exit ${r.status}`}); is port ${port} taken by another sshd? choose one with --ssh-port`);
  return { port, username, privateKeyFile: key };
}

/**
 * The flat network's segment: a dummy interface (`strato0`) with the gateway address. The agent puts it
 * in the NoVlan bridge `br_strato0` (moving the address to the bridge) with the guests' taps: guests get
 * DHCP and reach this machine at the gateway, on a segment of their own, never the machine's uplink.
 * A kernel without the dummy driver gets a veth pair instead (`strato0` ↔ `strato0p`, the peer left
 * unconnected): the same segment.
 */
export function ensureFlatInterface(name: string, gatewayCidr: string, log: (line: string) => void): void {
  const exists = (dev: string) => spawnSync('ip', ['link', 'show', dev], { stdio: 'ignore' }).status === 0;
  if (exists(name)) return;
  let kind = 'a dummy interface';
  if (spawnSync('ip', ['link', 'add', name, 'type', 'dummy'], { stdio: 'ignore' }).status !== 0) {
    run('ip', ['link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}p`], `making the flat network's interface ${name}`);
    run('ip', ['link', 'set', `${name}p`, 'up'], `making the flat network's interface ${name}`);
    kind = `a veth pair with ${name}p, this kernel having no dummy driver`;
  }
  run('ip', ['link', 'set', name, 'up'], `making the flat network's interface ${name}`);
  // After a reboot the bridge may come back first (it holds the address then): add it only once.
  const bridge = `br_${name.replace(/\./g, '_')}`;
  if (!exists(bridge)) run('ip', ['addr', 'add', gatewayCidr, 'dev', name], `addressing ${name}`);
  log(`  All-in-one: flat network on ${name} (${kind}, isolated from the machine's uplink; this machine is ${gatewayCidr.split('/')[0]} on it)`);
}

/**
 * The built-in image (scripts/build-tiny-guest.sh: a tiny Linux that boots in seconds even without KVM),
 * built once per version of the script into `$STRATO_CACHE_DIR` (default `~/.cache/strato`), the cache
 * the test suite uses too. Returns its file:// URL.
 */
export function ensureTinyGuest(log: (line: string) => void): string {
  const script = join(SCRIPTS, 'build-tiny-guest.sh');
  const hash = createHash('sha256').update(readFileSync(script)).digest('hex').slice(0, 16);
  const dir = join(process.env.STRATO_CACHE_DIR ?? join(homedir(), '.cache/strato'), 'tiny-guest', hash);
  const image = join(dir, 'tiny-guest.qcow2');
  if (!existsSync(image)) {
    log('  All-in-one: building the built-in image (scripts/build-tiny-guest.sh)…');
    const tmp = `${dir}.build-${process.pid}`;
    mkdirSync(tmp, { recursive: true });
    try {
      execFileSync('sh', [script, tmp], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 600_000 });
      if (!existsSync(image)) renameSync(tmp, dir);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  return pathToFileURL(image).href;
}
