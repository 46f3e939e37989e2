/**
 * `npm run bench:vm` — VMs on simulated hosts through the REST API, written to bench/REPORT.md.
 *   1. a `strato serve` child process; an environment of `--hosts` simulated hosts (in-process agents),
 *      one primary storage, a /16 network, an image and an offering, built through the API;
 *   2. `--vms` CreateVmInstance calls from `--clients` concurrent clients (each: POST with X-Web-Hook, the result comes back to a local server):
 *      completed creates/s, latency percentiles, failures, the server's RSS and CPU;
 *   3. the VM table topped up to `--query-rows` rows, then `QueryVmInstance` with two conditions, a sort,
 *      limit 100 and replyWithCount from 10 concurrent clients: p50/p95/p99.
 * Flags: --vms N --hosts N --clients N --query-rows N --db sqlite|mysql --quick
 *   --no-report: print the section without writing bench/REPORT.md (for trial runs).
 *   --cpu-prof DIR: the node runs under `node --cpu-prof` and writes its profile to DIR when it stops.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { createPool } from 'mysql2';
import { buildEnvironment } from '../../src/cli/environment.ts';
import { openDatabase } from '../../src/core/db/index.ts';
import { newUuid } from '../../src/core/util/uuid.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const quick = process.argv.includes('--quick');
const dbKind = process.argv.includes('mysql') ? 'mysql' : 'sqlite';
const VMS = arg('vms', quick ? 1000 : 10_000);
const HOSTS = arg('hosts', quick ? 100 : 1000);
const CLIENTS = arg('clients', 100);
const QUERY_ROWS = arg('query-rows', quick ? 20_000 : 100_000);
const cpuProfDir = process.argv.includes('--cpu-prof') ? resolve(process.argv[process.argv.indexOf('--cpu-prof') + 1]) : undefined;
const GiB = 2 ** 30;
const log = (s: string) => process.stdout.write(`${s}\n`);

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

async function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

function procStat(pid: number): { cpuTicks: number; rssBytes: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
  return { cpuTicks: Number(stat[11]) + Number(stat[12]), rssBytes: rss };
}

async function startNode(dbUrl: string | undefined, dir: string, port: number): Promise<ChildProcess> {
  const args = [...(cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfDir] : []), 'bin/strato.js', 'serve', '--port', String(port), '--host', '127.0.0.1', '--data-dir', dir, ...(dbUrl ? ['--db', dbUrl] : [])];
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, STRATO_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((res, rej) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('is up')) res();
    });
    child.on('exit', (code) => rej(new Error(`strato serve exited with ${code}`)));
  });
  return child;
}

async function api(base: string, session: string, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${base}/zstack/v1${path}`, { method, headers: { Authorization: `OAuth ${session}`, 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = (await res.json()) as any;
  if (res.status === 202) {
    for (;;) {
      const poll = await fetch(json.location);
      if (poll.status !== 202) {
        const r = (await poll.json()) as any;
        if (poll.status !== 200) throw new Error(JSON.stringify(r.error ?? r));
        return r;
      }
      await poll.arrayBuffer();
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  if (res.status !== 200) throw new Error(JSON.stringify(json.error ?? json));
  return json;
}

// The machine may be shared: the load before the run says how much of it the node could have.
const loadBefore = loadavg()[0];
const dir = mkdtempSync(join(tmpdir(), 'strato-bench-vm-'));
const mysqlName = `strato_bench_vm_${Date.now().toString(36)}`;
const dbUrl = dbKind === 'mysql' ? `mysql://root@127.0.0.1:3306/${mysqlName}` : undefined;
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
log(`bench:vm on ${dbKind}: ${HOSTS} hosts, ${VMS} VMs, ${CLIENTS} clients, query over ${QUERY_ROWS} rows`);
const child = await startNode(dbUrl, dir, port);
const rows: string[] = [];
try {
  const started = Date.now();
  // Scale runs reach simulated agents in process (the HTTP path is what the test suite covers).
  const login = await fetch(`${base}/zstack/v1/accounts/login`, { method: 'PUT', body: JSON.stringify({ logInByAccount: { accountName: 'admin', password: createHash('sha512').update('password').digest('hex') } }) });
  const adminSession = ((await login.json()) as { inventory: { uuid: string } }).inventory.uuid;
  await api(base, adminSession, 'PUT', '/global-configurations/simulator/agentTransport/actions', { updateGlobalConfig: { value: 'inProcess' } });
  const env = await buildEnvironment(base, {
    instanceOfferings: [{ name: 'bench-1c1g', cpuNum: 1, memorySize: 1 * GiB }],
    backupStorage: [{ name: 'bench-bs', totalCapacity: 100_000 * GiB, images: [{ name: 'bench-image', url: 'http://images.example/bench.qcow2?size=1073741824' }] }],
    zones: [{
      name: 'bench-zone',
      backupStorage: ['bench-bs'],
      primaryStorage: [{ name: 'bench-ps', type: 'Simulator', totalCapacity: 10_000_000 * GiB }],
      l2Networks: [{ name: 'bench-l2', l3Networks: [{ name: 'bench-l3', cidr: '10.20.0.0/16', services: ['DHCP'] }] }],
      clusters: Array.from({ length: Math.ceil(HOSTS / 100) }, (_, c) => ({
        name: `bench-cluster-${c}`,
        primaryStorage: ['bench-ps'],
        l2Networks: ['bench-l2'],
        hosts: Array.from({ length: Math.min(100, HOSTS - c * 100) }, (_, h) => ({ name: `bench-host-${c}-${h}`, managementIp: `172.${16 + c}.${Math.floor(h / 250)}.${(h % 250) + 1}`, cpuCapacity: 64, memoryCapacity: 256 * GiB })),
      })),
    }],
  });
  const session = env.session;
  log(`environment built in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  // 2. creates: each result comes back by X-Web-Hook (as a client that does not poll), so the
  //    figures measure the node's work, not a polling storm.
  const waiting = new Map<string, (ok: boolean, body: string) => void>();
  const hook = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      res.end('ok');
      waiting.get(String(req.headers['x-job-uuid']))?.(req.headers['x-job-success'] === 'true', body);
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', () => r()));
  const hookUrl = `http://127.0.0.1:${(hook.address() as { port: number }).port}/done`;
  const latencies: number[] = [];
  let failures = 0;
  let firstError = '';
  let next = 0;
  const samples: Array<{ rss: number }> = [];
  const cpu0 = procStat(child.pid!);
  const sampler = setInterval(() => samples.push({ rss: procStat(child.pid!).rssBytes }), 1000);
  const t0 = Date.now();
  await Promise.all(Array.from({ length: CLIENTS }, async () => {
    while (next < VMS) {
      const i = next++;
      const s = performance.now();
      const job = newUuid();
      const done = new Promise<{ ok: boolean; body: string }>((r) => waiting.set(job, (ok, body) => r({ ok, body })));
      const res = await fetch(`${base}/zstack/v1/vm-instances`, {
        method: 'POST',
        headers: { Authorization: `OAuth ${session}`, 'Content-Type': 'application/json', 'X-Job-UUID': job, 'X-Web-Hook': hookUrl },
        body: JSON.stringify({ params: { name: `bench-vm-${i}`, instanceOfferingUuid: env.uuid('bench-1c1g'), imageUuid: env.uuid('bench-image'), l3NetworkUuids: [env.uuid('bench-l3')] } }),
      });
      await res.arrayBuffer();
      const r = res.status === 202 ? await done : { ok: false, body: `HTTP ${res.status}` };
      waiting.delete(job);
      if (r.ok) latencies.push(performance.now() - s);
      else {
        failures++;
        firstError ||= r.body;
      }
    }
  }));
  hook.close();
  const seconds = (Date.now() - t0) / 1000;
  clearInterval(sampler);
  const cpu1 = procStat(child.pid!);
  const cpuShare = (cpu1.cpuTicks - cpu0.cpuTicks) / 100 / seconds;
  latencies.sort((a, b) => a - b);
  const peakRss = Math.max(...samples.map((x) => x.rss), procStat(child.pid!).rssBytes);
  const rate = latencies.length / seconds;
  rows.push(`| creates through REST, ${CLIENTS} clients | ${rate.toFixed(1)} creates/s (${latencies.length} done in ${seconds.toFixed(1)} s, ${failures} failed${firstError ? `: ${firstError.slice(0, 120)}` : ''}); latency p50 ${pct(latencies, 50).toFixed(0)} ms, p95 ${pct(latencies, 95).toFixed(0)} ms, p99 ${pct(latencies, 99).toFixed(0)} ms | ≥ 200 creates/s | ${rate >= 200 && failures === 0 ? 'met' : 'MISSED'} |`);
  const cpuMsPerCreate = ((cpu1.cpuTicks - cpu0.cpuTicks) * 10) / Math.max(1, latencies.length);
  rows.push(`| node during the creates | CPU ${(cpuShare * 100).toFixed(0)} % of one core (${cpuMsPerCreate.toFixed(1)} ms of CPU per create), peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB | RSS < 2 GiB | ${peakRss < 2 * GiB ? 'met' : 'MISSED'} |`);

  // 3. queries over QUERY_ROWS VMs: top the table up with rows shaped like the created ones.
  const db = await openDatabase(dbUrl ?? `sqlite:${join(dir, 'strato.db')}`);
  const template = await db.db.selectFrom('vm_instance').selectAll().where('state', '=', 'Running').executeTakeFirstOrThrow();
  const have = Number((await db.db.selectFrom('vm_instance').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  const hostUuids = (await db.db.selectFrom('host').select('uuid').execute()).map((r) => r.uuid as string);
  const states = ['Running', 'Running', 'Running', 'Stopped', 'Paused'];
  for (let i = have; i < QUERY_ROWS; i += 1000) {
    const batch = Array.from({ length: Math.min(1000, QUERY_ROWS - i) }, (_, k) => {
      const n = i + k;
      return { ...template, uuid: newUuid(), name: `bench-vm-${n}`, hostUuid: hostUuids[n % hostUuids.length], lastHostUuid: null, rootVolumeUuid: null, state: states[n % states.length], memorySize: (1 + (n % 4)) * GiB, createDate: Number(template.createDate) + n, lastOpDate: Number(template.createDate) + n };
    });
    await db.db.insertInto('vm_instance').values(batch).execute();
  }
  await db.close();
  const query = `/vm-instances?q=${encodeURIComponent('state=Running')}&q=${encodeURIComponent(`memorySize>=${2 * GiB}`)}&sort=-createDate&limit=100&start=100&replyWithCount=true`;
  const check = await api(base, session, 'GET', query);
  const qLat: number[] = [];
  let qNext = 0;
  const QUERIES = 500;
  const qCpu0 = procStat(child.pid!).cpuTicks;
  await Promise.all(Array.from({ length: 10 }, async () => {
    while (qNext < QUERIES) {
      qNext++;
      const s = performance.now();
      await api(base, session, 'GET', query);
      qLat.push(performance.now() - s);
    }
  }));
  qLat.sort((a, b) => a - b);
  const qCpuMs = ((procStat(child.pid!).cpuTicks - qCpu0) * 10) / QUERIES;
  rows.push(`| \`QueryVmInstance\` over ${QUERY_ROWS.toLocaleString('en-US')} VMs (2 conditions, sort, limit 100, replyWithCount; total ${check.total}), 10 clients | p50 ${pct(qLat, 50).toFixed(1)} ms, p95 ${pct(qLat, 95).toFixed(1)} ms, p99 ${pct(qLat, 99).toFixed(1)} ms; ${qCpuMs.toFixed(2)} ms of node CPU per query | p95 < 50 ms | ${pct(qLat, 95) < 50 ? 'met' : 'MISSED'} |`);
} finally {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
  if (dbKind === 'mysql') {
    const pool = createPool({ host: '127.0.0.1', user: 'root', connectionLimit: 1 });
    await pool.promise().query(`DROP DATABASE IF EXISTS \`${mysqlName}\``);
    await new Promise<void>((r) => pool.end(() => r()));
  }
}

const cpu = cpus();
const heading = `## VMs on simulated hosts, ${dbKind === 'mysql' ? 'MariaDB' : 'SQLite'} (\`npm run bench:vm${dbKind === 'mysql' ? ' -- mysql' : ''}\`)`;
const section = [
  heading,
  '',
  `Run ${new Date().toISOString()}${quick ? ' (--quick)' : ''}. Machine: ${cpu.length} × ${cpu[0]?.model ?? 'CPU'}, ${(totalmem() / GiB).toFixed(1)} GiB, Node ${process.version}. Load average when the run started: ${loadBefore.toFixed(1)}, ${(loadavg()[0]).toFixed(1)} when it ended. ${HOSTS} simulated hosts (in-process agents), ${VMS} creates from ${CLIENTS} clients, each result delivered by X-Web-Hook; the query set topped up to ${QUERY_ROWS.toLocaleString('en-US')} rows by direct inserts shaped like created VMs.`,
  '',
  '| figure | measured | target | |',
  '| --- | --- | --- | --- |',
  ...rows,
  '',
].join('\n');
const reportPath = resolve(import.meta.dirname, '../REPORT.md');
let report = existsSync(reportPath) ? readFileSync(reportPath, 'utf8') : '# Strato benchmarks\n\n';
const start = report.indexOf(heading);
if (start >= 0) {
  const end = report.indexOf('\n## ', start + 1);
  report = report.slice(0, start) + section + (end >= 0 ? `\n${report.slice(end + 1)}` : '');
} else report = `${report.trimEnd()}\n\n${section}`;
if (!process.argv.includes('--no-report')) writeFileSync(reportPath, report);
log(section);
