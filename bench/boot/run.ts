/**
 * `npm run bench:boot` — from the API call CreateVmInstance to a booted guest (TINYGUEST-BOOTED on its
 * serial console), on one pretend KVM host, written to bench/REPORT.md.
 *   1. a management node (in this process, SQLite) and a pretend host (network namespace with sshd)
 *      whose KVM agent and image store are deployed by Ansible through the API, as in test/system/;
 *      the built-in image (scripts/build-tiny-guest.sh) added to the image store;
 *   2. `--runs` times: CreateVmInstance through REST → job done → marker on the serial console, then
 *      the VM destroyed and expunged. Every command the node sends to an agent is timed at the node
 *      (the AgentClient is wrapped), so each run splits into
 *        - management node: API accepted → job done, minus the agent commands (API, flows, DB, allocation);
 *        - host: the agent commands (image cache fill, linked clone, /vm/start = taps + QEMU spawn);
 *        - guest boot: /vm/start answered → marker on the serial console (TCG unless the CPU has KVM).
 *      The first run fills the host's image cache; the others clone from it.
 * Flags: --runs N (default 3); --no-report: print the section without writing bench/REPORT.md.
 * Needs root, qemu-system-x86_64, qemu-img, ansible-playbook and sshd (as the system tests).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { apiCatalog } from '../../src/api/catalog.ts';
import { callApi } from '../../src/cli/client.ts';
import { agentDataDirOf } from '../../src/core/ansible/index.ts';
import type { AgentClient } from '../../src/core/agent/index.ts';
import { tinyGuest } from '../../test/agent/tiny-guest.ts';
import { createPretendHost } from '../../test/support/pretend-host.ts';
import { startTestNode } from '../../test/support/test-node.ts';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const RUNS = arg('runs', 3);
const MARKER = 'TINYGUEST-BOOTED';
const MiB = 1024 ** 2;
const log = (s: string) => process.stdout.write(`${s}\n`);

interface AgentCallTiming {
  path: string;
  startedAt: number;
  ms: number;
}

/** Times every command the node sends to an agent (callbacks included): the host's share of a create. */
function timeAgentCalls(agents: AgentClient, into: AgentCallTiming[]): void {
  for (const method of ['call', 'callSync'] as const) {
    const original = agents[method].bind(agents);
    (agents as unknown as Record<string, unknown>)[method] = async (endpoint: unknown, path: string, cmd: unknown, opts?: unknown) => {
      const startedAt = performance.now();
      try {
        return await (original as (...a: unknown[]) => Promise<unknown>)(endpoint, path, cmd, opts);
      } finally {
        into.push({ path, startedAt, ms: performance.now() - startedAt });
      }
    };
  }
}

async function waitFor(fn: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const started = performance.now();
  while (!fn()) {
    if (performance.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return performance.now();
}

interface RunResult {
  totalMs: number;
  apiMs: number;
  nodeMs: number;
  /** The node's own time from the API call to /vm/start sent, and from its answer to the job done. */
  nodeBeforeStartMs: number;
  nodeAfterStartMs: number;
  hostMs: number;
  bootMs: number;
  byPath: Record<string, number>;
}

const loadBefore = loadavg()[0];
const image = join(tinyGuest(), 'tiny-guest.qcow2');
const h = await createPretendHost();
const rootDir = await mkdtemp(join(tmpdir(), 'strato-bench-boot-'));
const t = await startTestNode('sqlite', { node: { host: h.gatewayIp, advertiseHost: h.gatewayIp } });
const results: RunResult[] = [];
let accel = '?';
try {
  const c = await t.login();
  const api = async (name: string, params: Record<string, unknown>): Promise<any> => {
    const def = apiCatalog.find((a) => a.name === name);
    if (!def) throw new Error(`no API ${name}`);
    return callApi(def, params, { baseUrl: c.url, session: c.session, pollIntervalMs: 10, timeoutMs: 600_000 });
  };
  for (const category of ['kvm', 'imageStore']) await c.call('PUT', `/global-configurations/${category}/agent.rootDir/actions`, { updateGlobalConfig: { value: rootDir } });
  await c.call('PUT', '/global-configurations/host/ping.interval/actions', { updateGlobalConfig: { value: '3600' } });
  const zone = (await api('CreateZone', { name: 'boot-zone' })).inventory.uuid;
  const cluster = (await api('CreateCluster', { name: 'boot-cluster', zoneUuid: zone, hypervisorType: 'KVM' })).inventory.uuid;
  const ps = (await api('AddLocalPrimaryStorage', { name: 'boot-ps', zoneUuid: zone, url: join(rootDir, 'local-ps') })).inventory.uuid;
  await api('AttachPrimaryStorageToCluster', { clusterUuid: cluster, primaryStorageUuid: ps });
  const l2 = (await api('CreateL2NoVlanNetwork', { name: 'boot-l2', zoneUuid: zone, physicalInterface: 'eth0' })).inventory.uuid;
  await api('AttachL2NetworkToCluster', { clusterUuid: cluster, l2NetworkUuid: l2 });
  const l3 = (await api('CreateL3Network', { name: 'boot-l3', l2NetworkUuid: l2, category: 'Private' })).inventory.uuid;
  await api('AddIpRange', { l3NetworkUuid: l3, name: 'boot-range', startIp: '192.168.253.10', endIp: '192.168.253.100', netmask: '255.255.255.0', gateway: '192.168.253.1' });
  const offering = (await api('CreateInstanceOffering', { name: 'boot-io', cpuNum: 1, memorySize: 256 * MiB })).inventory.uuid;
  const [host, bs] = await Promise.all([
    api('AddKVMHost', { name: 'boot-host', clusterUuid: cluster, managementIp: h.ip, username: 'root', sshPrivateKey: h.privateKey }),
    api('AddImageStoreBackupStorage', { name: 'boot-bs', url: join(rootDir, 'image-store'), hostname: h.ip, username: 'root', sshPrivateKey: h.privateKey }),
  ]);
  await api('AttachBackupStorageToZone', { zoneUuid: zone, backupStorageUuid: bs.inventory.uuid });
  const imageUuid = (await api('AddImage', { name: 'tiny-guest', url: pathToFileURL(image).href, format: 'qcow2', mediaType: 'RootVolumeTemplate', platform: 'Linux', backupStorageUuids: [bs.inventory.uuid] })).inventory.uuid;
  const agentDir = agentDataDirOf(rootDir, host.inventory.uuid);

  const calls: AgentCallTiming[] = [];
  timeAgentCalls(t.node.ctx.agents, calls);
  for (let i = 0; i < RUNS; i++) {
    calls.length = 0;
    const t0 = performance.now();
    const vm = (await api('CreateVmInstance', { name: `boot-vm-${i}`, instanceOfferingUuid: offering, imageUuid, l3NetworkUuids: [l3] })).inventory;
    const tDone = performance.now();
    const serial = join(agentDir, 'logs', `${vm.uuid}.serial.log`);
    const tBooted = await waitFor(() => existsSync(serial) && readFileSync(serial, 'utf8').includes(MARKER), 300_000, `VM ${vm.uuid} booting`);
    const pidFile = join(agentDir, 'vms', vm.uuid, 'qemu.pid');
    if (existsSync(pidFile)) accel = /-accel\0(\w+)/.exec(readFileSync(`/proc/${readFileSync(pidFile, 'utf8').trim()}/cmdline`, 'utf8'))?.[1] ?? accel;
    const during = calls.filter((c) => c.startedAt >= t0 && c.startedAt <= tDone);
    const start = during.find((c) => c.path === '/vm/start');
    if (!start) throw new Error('no /vm/start was sent during the create');
    const byPath: Record<string, number> = {};
    for (const c of during) byPath[c.path] = (byPath[c.path] ?? 0) + c.ms;
    const hostMs = during.reduce((s, c) => s + c.ms, 0);
    const startEnd = start.startedAt + start.ms;
    const agentBefore = during.filter((c) => c.startedAt < start.startedAt).reduce((s, c) => s + c.ms, 0);
    const agentAfter = during.filter((c) => c.startedAt >= startEnd).reduce((s, c) => s + c.ms, 0);
    const r: RunResult = {
      totalMs: tBooted - t0, apiMs: tDone - t0, nodeMs: tDone - t0 - hostMs, hostMs, bootMs: tBooted - startEnd, byPath,
      nodeBeforeStartMs: start.startedAt - t0 - agentBefore, nodeAfterStartMs: tDone - startEnd - agentAfter,
    };
    results.push(r);
    log(`run ${i + 1}: ${JSON.stringify({ ...r, byPath: Object.fromEntries(Object.entries(byPath).map(([k, v]) => [k, Math.round(v)])) })}`);
    await api('DestroyVmInstance', { uuid: vm.uuid });
    await api('ExpungeVmInstance', { uuid: vm.uuid }).catch(() => undefined);
  }
  await api('DeleteHost', { uuid: host.inventory.uuid });
  await api('DeleteBackupStorage', { uuid: bs.inventory.uuid });
} finally {
  await t.stop();
  await h.destroy();
  await rm(rootDir, { recursive: true, force: true });
}

const ms = (v: number) => `${Math.round(v).toLocaleString('en-US')} ms`;
const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const warm = results.slice(1);
const summarize = (rs: RunResult[], label: string) => {
  if (!rs.length) return [];
  const m = (f: (r: RunResult) => number) => ms(median(rs.map(f)));
  const paths = [...new Set(rs.flatMap((r) => Object.keys(r.byPath)))];
  return [
    `| ${label}: API call → guest booted | ${m((r) => r.totalMs)} |`,
    `| ${label}: management node (API accepted → job done, minus agent commands) | ${m((r) => r.nodeMs)}: ${m((r) => r.nodeBeforeStartMs)} until /vm/start is sent, ${m((r) => r.nodeAfterStartMs)} from its answer to the job's result |`,
    `| ${label}: host, agent commands during the create | ${m((r) => r.hostMs)} (${paths.map((p) => `\`${p}\` ${m((r) => r.byPath[p] ?? 0)}`).join(', ')}) |`,
    `| ${label}: guest boot (/vm/start answered → ${MARKER}) | ${m((r) => r.bootMs)} |`,
  ];
};
const cpu = cpus();
const heading = '## API → booted guest on a pretend KVM host (`npm run bench:boot`)';
const section = [
  heading,
  '',
  `Run ${new Date().toISOString()}. Machine: ${cpu.length} × ${cpu[0]?.model ?? 'CPU'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}; load average ${loadBefore.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end (other work shares the cores). ${RUNS} creates of a 1-vCPU, 256 MiB VM from the built-in image through REST (job polled every 10 ms), one at a time, on one pretend host (network namespace, agent deployed by Ansible), QEMU accel ${accel}, SQLite. Medians; the first run fills the host's image cache, the others clone from it. Agent commands are timed at the node (network and callback included).`,
  '',
  '| figure | median |',
  '| --- | --- |',
  ...summarize(results.slice(0, 1), 'first run (cold cache)'),
  ...summarize(warm, `runs 2–${RUNS} (warm cache)`),
  '',
].join('\n');
const reportPath = resolve(import.meta.dirname, '../REPORT.md');
let report = existsSync(reportPath) ? readFileSync(reportPath, 'utf8') : '# Strato benchmarks\n\n';
const at = report.indexOf(heading);
if (at >= 0) {
  const end = report.indexOf('\n## ', at + 1);
  report = report.slice(0, at) + section + (end >= 0 ? `\n${report.slice(end + 1)}` : '');
} else {
  // New sections go before the hand-kept notes, which stay last.
  const notes = report.indexOf('\n## Notes on the figures');
  report = notes >= 0 ? `${report.slice(0, notes + 1)}${section}\n${report.slice(notes + 1)}` : `${report.trimEnd()}\n\n${section}`;
}
if (!process.argv.includes('--no-report')) writeFileSync(reportPath, report);
log(section);
process.exit(0);
