import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { agentDataDirOf } from '../../src/core/ansible/index.ts';
import { tinyGuest } from '../agent/tiny-guest.ts';
import { createPretendHost, type PretendHost } from '../support/pretend-host.ts';
import { processRuns } from '../../src/agent/process-alive.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const LONG = 300_000;

/**
 * `strato serve --all-in-one` with no other option, run on a pretend host (the node inside its
 * namespace, as on a machine of its own, where no sshd listens on loopback at first): it starts its own
 * loopback sshd with a key it makes, adds the machine as its own KVM host over it, an image store,
 * storage and a flat network with the Flat provider's DHCP on a dummy interface, and starts a first VM
 * from the built-in image, which boots; it prints the API and a console URL.
 */
describe('strato serve --all-in-one', () => {
  let h: PretendHost | undefined;
  let serve: ChildProcess | undefined;
  let dir: string | undefined;
  let home = '';

  afterAll(async () => {
    serve?.kill('SIGKILL');
    await h?.destroy(); // every process in the namespace: the node's sshd, the agents, QEMU
    if (dir) await removeDhcpNamespaces(dir);
    if (dir) await rm(dir, { recursive: true, force: true });
  }, LONG);

  it('makes this machine a KVM host through its own loopback sshd and boots a first VM from the built-in image', async () => {
    tinyGuest(); // the pretend host has no route to the mirrors: the built-in image comes from the shared cache
    h = await createPretendHost();
    dir = await mkdtemp(join(tmpdir(), 'strato-test-aio-'));
    const dataDir = join(dir, 'data');
    home = join(dir, 'home');
    const args = [join(ROOT, 'bin/strato.js'), 'serve', '--port', '8080', '--host', '0.0.0.0', '--advertise-host', h.ip, '--data-dir', dataDir, '--all-in-one'];
    serve = spawn('ip', ['netns', 'exec', h.name, process.execPath, ...args], { cwd: ROOT, env: { ...process.env, STRATO_HOME: home, STRATO_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    serve.stdout!.on('data', (d) => (out += String(d)));
    serve.stderr!.on('data', (d) => (out += String(d)));
    const vm = await waitFor(() => {
      if (serve!.exitCode !== null) throw new Error(`strato serve --all-in-one exited (${serve!.exitCode}):\n${out}`);
      return /VM first-vm ([0-9a-f]{32}) is Running/.exec(out)?.[1];
    }, () => `strato serve --all-in-one did not start a VM:\n${out}`, LONG - 60_000);
    const host = /KVM host ([0-9a-f]{32}) Connected/.exec(out)![1];
    expect(out).toContain('is up.');
    expect(out).toContain('deploying the agents on 127.0.0.1');
    // Every agent report was signed as the node expects (the image store's download progress included).
    expect(out).not.toContain('refused an agent report');
    // The node's own key, accepted only from loopback, by an sshd listening only there.
    expect(readFileSync(join(home, 'authorized_keys'), 'utf8')).toMatch(/^from="127\.0\.0\.1,::1",[^ ]* ssh-ed25519 /);
    expect(readFileSync(join(home, 'sshd_config'), 'utf8')).toMatch(/ListenAddress 127\.0\.0\.1\n[^]*PasswordAuthentication no/);
    // The flat network's bridge is on the dummy interface, not on the machine's uplink (eth0).
    const links = JSON.parse(await inNs(h.name, ['ip', '-j', '-d', 'link', 'show'])) as Array<{ ifname: string; master?: string; linkinfo?: { info_kind?: string } }>;
    const flat = links.find((l) => l.ifname === 'strato0');
    expect(flat?.master).toBe('br_strato0');
    // A dummy interface, or a veth pair whose peer is connected to nothing where the kernel has no dummy driver.
    expect(['dummy', 'veth']).toContain(flat?.linkinfo?.info_kind);
    if (flat?.linkinfo?.info_kind === 'veth') expect(links.find((l) => l.ifname === 'strato0p')?.master).toBeUndefined();
    expect(links.find((l) => l.ifname === 'eth0')?.master).toBeUndefined();
    const serial = join(agentDataDirOf(join(dataDir, 'agents'), host), 'logs', `${vm}.serial.log`);
    await waitFor(() => existsSync(serial) && readFileSync(serial, 'utf8').includes('TINYGUEST-BOOTED'), () => `no TINYGUEST-BOOTED in ${serial}`, 120_000);
    // The API as printed, and the L3 with the Flat provider's DHCP attached.
    expect(out).toContain(`API http://${h.ip}:8080/zstack/v1/`);
    expect(out).toMatch(/Console: http:\/\/\S+token=/);
    const session = await login(`http://${h.ip}:8080`);
    const withDhcp = await get(`http://${h.ip}:8080/zstack/v1/l3-networks?q=name=flat&q=serviceProviderRef.networkServiceType=DHCP`, session);
    expect(withDhcp.inventories.map((l: { name: string }) => l.name)).toEqual(['flat']);
    // The sshd really listens on loopback only (not just says so in its config).
    const sshd = Number(readFileSync(join(home, 'sshd.pid'), 'utf8'));
    const listening = (await inNs(h.name, ['ss', '-Hltn', 'sport = :2222'])).trim().split('\n').filter(Boolean).map((l) => l.split(/\s+/)[3]);
    expect(listening).toEqual(['127.0.0.1:2222']);

    // Stopping the node stops its sshd (agents and VMs run on).
    await stopServe();
    await waitFor(() => !alive(sshd), () => `the sshd (${sshd}) still runs after the node stopped`, 10_000);
    expect(alive(Number(readFileSync(join(agentDataDirOf(join(dataDir, 'agents'), host), 'agent.pid'), 'utf8')))).toBe(true);

    // Run twice: the second start reuses the database, brings the sshd back and prints the summary again.
    out = '';
    serve = spawn('ip', ['netns', 'exec', h.name, process.execPath, ...args], { cwd: ROOT, env: { ...process.env, STRATO_HOME: home, STRATO_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    serve.stdout!.on('data', (d) => (out += String(d)));
    serve.stderr!.on('data', (d) => (out += String(d)));
    await waitFor(() => {
      if (serve!.exitCode !== null) throw new Error(`the second strato serve --all-in-one exited (${serve!.exitCode}):\n${out}`);
      return /Console: http:\/\/\S+token=/.test(out);
    }, () => `the second start printed no console URL:\n${out}`, 120_000);
    expect(out).toContain('already built in this database');
    const sshd2 = Number(readFileSync(join(home, 'sshd.pid'), 'utf8'));
    expect(alive(sshd2)).toBe(true);

    // The summary says to change the admin password: a start after that prepares the machine and serves, no failure.
    const nodeUrl = `http://${h.ip}:8080`;
    const admin = await loginInventory(nodeUrl, 'password');
    const changed = await fetch(`${nodeUrl}/zstack/v1/accounts/${admin.accountUuid}`, { method: 'PUT', headers: { 'Content-Type': 'application/json', Authorization: `OAuth ${admin.uuid}` }, body: JSON.stringify({ updateAccount: { password: sha512('changed-pw'), oldPassword: sha512('password') } }) });
    expect(changed.status, await changed.text()).toBeLessThan(300);
    await waitFor(async () => (await loginInventory(nodeUrl, 'changed-pw')).uuid, () => 'the admin password did not change', 30_000);
    await stopServe();
    await waitFor(() => !alive(sshd2), () => `the sshd (${sshd2}) still runs after the second stop`, 10_000);
    out = '';
    serve = spawn('ip', ['netns', 'exec', h.name, process.execPath, ...args], { cwd: ROOT, env: { ...process.env, STRATO_HOME: home, STRATO_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    serve.stdout!.on('data', (d) => (out += String(d)));
    serve.stderr!.on('data', (d) => (out += String(d)));
    await waitFor(() => {
      if (serve!.exitCode !== null) throw new Error(`strato serve --all-in-one exited after the admin password changed (${serve!.exitCode}):\n${out}`);
      return out.includes('cannot log in as admin with the default password');
    }, () => `the third start said nothing of the login:\n${out}`, 120_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(serve.exitCode).toBeNull();
    expect(alive(Number(readFileSync(join(home, 'sshd.pid'), 'utf8')))).toBe(true);
    await stopServe();
  }, LONG);

  async function stopServe(): Promise<void> {
    const exited = new Promise((r) => serve!.once('exit', r));
    serve!.kill('SIGTERM');
    await exited;
    expect(serve!.exitCode).toBe(0);
    await waitFor(() => !existsSync(join(home, 'sshd.pid')), () => 'the sshd pid file is still there', 10_000);
  }
});

/**
 * The agent's flat-network DHCP runs in namespaces of its own (`strato-dhcp-…`, named as
 * src/agent/network/flat-dhcp.ts names them, outside the pretend host's), with a dnsmasq working under
 * this test's directory: both are this test's to remove.
 */
async function removeDhcpNamespaces(dir: string): Promise<void> {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number)) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir)) process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  const agents = join(dir, 'data', 'agents');
  for (const agent of existsSync(agents) ? readdirSync(agents) : []) {
    const dhcp = join(agents, agent, 'dhcp');
    for (const l3 of existsSync(dhcp) ? readdirSync(dhcp) : []) {
      const ns = `strato-dhcp-${createHash('sha1').update(`${join(agents, agent)}\n${l3}`).digest('hex').slice(0, 12)}`;
      await run('ip', ['netns', 'del', ns]);
    }
  }
}

/** Alive and not a zombie waiting for its parent (init) to reap it. */
const alive = (pid: number) => processRuns(pid);

async function run(file: string, args: string[]): Promise<string> {
  const p = spawn(file, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  p.on('error', () => undefined);
  let out = '';
  p.stdout!.on('data', (d) => (out += String(d)));
  await new Promise((r) => p.on('close', r));
  return out;
}

async function inNs(ns: string, args: string[]): Promise<string> {
  const p = spawn('ip', ['netns', 'exec', ns, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout!.on('data', (d) => (out += String(d)));
  await new Promise((r) => p.on('close', r));
  return out;
}

const sha512 = (text: string) => createHash('sha512').update(text).digest('hex');

async function loginInventory(url: string, password: string): Promise<{ uuid: string; accountUuid: string }> {
  const res = await fetch(`${url}/zstack/v1/accounts/login`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ logInByAccount: { accountName: 'admin', password: sha512(password) } }) });
  return ((await res.json()) as { inventory?: { uuid: string; accountUuid: string } }).inventory ?? { uuid: '', accountUuid: '' };
}

async function login(url: string): Promise<string> {
  const password = createHash('sha512').update('password').digest('hex');
  const res = await fetch(`${url}/zstack/v1/accounts/login`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ logInByAccount: { accountName: 'admin', password } }) });
  return ((await res.json()) as { inventory: { uuid: string } }).inventory.uuid;
}

async function get(url: string, session: string): Promise<any> {
  return (await fetch(url, { headers: { Authorization: `OAuth ${session}` } })).json();
}

async function waitFor<T>(fn: () => T | undefined | false | Promise<T | undefined | false>, what: () => string, timeoutMs: number): Promise<T> {
  const started = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - started > timeoutMs) throw new Error(what());
    await new Promise((r) => setTimeout(r, 250));
  }
}
