import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';

/**
 * FlatDhcp's `prepare` carrying the leases (and making the NoVlan bridge), without namespaces: the
 * commands it would run are recorded instead (`ip`, `ebtables`, dnsmasq), the bridge maker and the
 * links it makes are pretend ones; the state and lease files are real, in a temporary data directory.
 * test/agent/network-*.test.ts run the same commands against real namespaces and guests.
 */
const run: string[][] = [];
const links = new Set<string>();
vi.mock('../exec.ts', () => ({
  exec: vi.fn(async (file: string, args: string[]) => {
    run.push([file, ...args]);
    return '';
  }),
}));
vi.mock('./bridges.ts', () => ({
  ensureBridge: vi.fn(async (bridge: string, iface: string) => {
    run.push(['ensureBridge', bridge, iface]);
    links.add(bridge);
  }),
}));
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const existsSync = (p: string) => (p.startsWith('/sys/class/net/') ? links.has(p.slice('/sys/class/net/'.length)) : p.startsWith('/run/netns/') ? false : fs.existsSync(p));
  return { ...fs, existsSync, default: { ...fs, existsSync } };
});

const { FlatDhcp } = await import('./flat-dhcp.ts');

const L3 = '0123456789abcdef0123456789abcdef';
const base = { l3NetworkUuid: L3, bridgeName: 'br_eth7', dhcpServerIp: '192.168.70.2', dhcpNetmask: '255.255.255.0', physicalInterface: 'eth7' };
const lease = (mac: string, ip: string) => ({ mac, ip, netmask: '255.255.255.0', gateway: '192.168.70.1', hostname: `h${ip.split('.')[3]}`, dns: ['192.168.70.53'] });

describe('flat DHCP prepare with leases (agent, no namespaces)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'strato-test-flatdhcp-'));
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    run.length = 0;
  });
  const files = (name: string) => readFileSync(join(dir, 'dhcp', L3, name), 'utf8');
  const dnsmasqStarts = () => run.filter((c) => c.includes('dnsmasq')).length;

  it('makes the NoVlan bridge, the namespace and the lease files in one command, and starts dnsmasq with them', async () => {
    const dhcp = new FlatDhcp(dir);
    const r = await dhcp.prepare({ ...base, dhcp: [lease('52:54:00:AA:00:01', '192.168.70.11')] });
    expect(r).toMatchObject({ leases: 1 });
    expect(run[0]).toEqual(['ensureBridge', 'br_eth7', 'eth7']);
    expect(run.findIndex((c) => c.join(' ') === `ip link set ${dhcp.names(L3).outer} master br_eth7`)).toBeGreaterThan(0);
    expect(files('hosts')).toBe('52:54:00:aa:00:01,set:nic525400aa0001,192.168.70.11,h11,infinite\n');
    expect(files('opts')).toContain('tag:nic525400aa0001,option:dns-server,192.168.70.53');
    expect(dnsmasqStarts()).toBe(1);
    // the physical interface is an uplink the namespace is cut off from
    expect(run.some((c) => c[0] === 'ebtables' && c.includes('-o') && c.includes('eth7'))).toBe(true);
  });

  it('adds leases to those held, or makes them the whole set with rebuild; without dhcp it keeps them', async () => {
    const dhcp = new FlatDhcp(dir);
    await dhcp.prepare({ ...base, dhcp: [lease('52:54:00:aa:00:02', '192.168.70.12')] });
    expect(JSON.parse(files('leases.json')).map((d: { mac: string }) => d.mac)).toEqual(['52:54:00:aa:00:01', '52:54:00:aa:00:02']);
    expect(await dhcp.prepare({ ...base })).toMatchObject({ leases: 2 });
    expect(await dhcp.prepare({ ...base, dhcp: [lease('52:54:00:aa:00:03', '192.168.70.13')], rebuild: true })).toMatchObject({ leases: 1 });
    expect(files('hosts')).toBe('52:54:00:aa:00:03,set:nic525400aa0003,192.168.70.13,h13,infinite\n');
  });

  it('refuses bad leases and an IP leased to two MACs before changing anything', async () => {
    const dhcp = new FlatDhcp(dir);
    const before = files('leases.json');
    await expect(dhcp.prepare({ ...base, dhcp: [lease('52:54:00:aa:00:09', '192.168.70.13')] })).rejects.toThrow(/192\.168\.70\.13 would be leased to both/);
    await expect(dhcp.prepare({ ...base, dhcp: [{ ...lease('not-a-mac', '192.168.70.14') }] })).rejects.toThrow(/bad MAC/);
    await expect(dhcp.prepare({ ...base, dhcp: [{ ...lease('52:54:00:aa:00:0a', '192.168.70.14'), netmask: '255.0.255.0' }] })).rejects.toThrow(/bad netmask/);
    await expect(dhcp.prepare({ ...base, physicalInterface: '-i eth0' })).rejects.toThrow(/physicalInterface/);
    await expect(dhcp.prepare({ ...base, dhcp: 'all' as never })).rejects.toThrow(/dhcp must be a list/);
    expect(run).toEqual([]);
    expect(files('leases.json')).toBe(before);
  });

  it('a running dnsmasq is sent SIGHUP to re-read the leases, never started again', async () => {
    const dhcp = new FlatDhcp(dir);
    const pidFile = join(dir, 'dhcp', L3, 'dnsmasq.pid');
    const hups = join(dir, 'hups');
    // a stand-in whose command line is what dnsmasqPid() recognises: "dnsmasq" and this L3's pid file
    const child = spawn(process.execPath, ['-e', `process.on('SIGHUP', () => require('fs').appendFileSync(${JSON.stringify(hups)}, 'x')); require('fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setInterval(() => {}, 1000)`, 'dnsmasq', `--pid-file=${pidFile}`], { stdio: 'ignore' });
    children.push(child);
    while (dhcp.dnsmasqPid(L3) !== child.pid) await new Promise((r) => setTimeout(r, 20));
    await dhcp.prepare({ ...base, dhcp: [lease('52:54:00:aa:00:04', '192.168.70.14')] });
    for (let i = 0; i < 100 && !readIf(hups); i++) await new Promise((r) => setTimeout(r, 20));
    expect(readIf(hups)).toBe('x');
    expect(dnsmasqStarts()).toBe(0);
    expect(dhcp.dnsmasqPid(L3)).toBe(child.pid);
  });
});

function readIf(f: string): string {
  try {
    return readFileSync(f, 'utf8');
  } catch {
    return '';
  }
}
