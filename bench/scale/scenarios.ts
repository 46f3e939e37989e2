/** The six scenarios of issue 7, each returning its report rows. */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sql, type Kysely } from 'kysely';
import { pct, pool, summarize, type Client, type Hooks } from './client.ts';
import { vmParams, type BenchEnv } from './environment.ts';
import { Window, type Row } from './measure.ts';
import { NodeProcess } from './node-process.ts';

export interface Bench {
  client: Client;
  hooks: Hooks;
  node: NodeProcess;
  env: BenchEnv;
  db: Kysely<any>;
  dbKind: 'sqlite' | 'mysql';
  dbUrl?: string;
  dataDir: string;
  mysqlName: string;
  hosts: number;
  clients: number;
  log: (s: string) => void;
  /** uuids of the VMs created through the API, in creation order */
  vmUuids: string[];
}

const f0 = (n: number) => n.toFixed(0);
const f1 = (n: number) => n.toFixed(1);
const lat = (s: { p50: number; p95: number; p99: number }) => `p50 ${f0(s.p50)} ms, p95 ${f0(s.p95)} ms, p99 ${f0(s.p99)} ms`;

/** 1: creates through REST from `clients` clients, each result by X-Web-Hook. */
export async function createScenario(b: Bench, vms: number): Promise<Row[]> {
  const w = new Window(b.node);
  const results = await pool(vms, b.clients, (i) => b.hooks.run(b.client, 'POST', '/vm-instances', vmParams(b.env, `bench-vm-${i}`)));
  const m = w.end();
  for (const r of results) if (r.ok) b.vmUuids.push(JSON.parse(r.body).inventory.uuid);
  const s = summarize(results);
  const rate = s.done / m.seconds;
  const name = `1 create ${vms.toLocaleString('en-US')} VMs on ${b.hosts.toLocaleString('en-US')} hosts`;
  return [
    { scenario: name, figure: `creates/s, ${b.clients} clients`, measured: `${f1(rate)} creates/s (${s.done} done in ${f1(m.seconds)} s, ${s.failed} failed${s.firstError ? `: ${s.firstError.slice(0, 100)}` : ''})`, load: m.load, rate, target: '≥ 500/s, 0 failures', met: rate >= 500 && s.failed === 0 },
    { scenario: name, figure: 'create latency (request to webhook)', measured: lat(s), load: m.load, ms: s.p95, target: '—' },
    { scenario: name, figure: 'node CPU and memory', measured: `${f0(m.cpuShare * 100)} % of one core, ${((m.cpuSeconds * 1000) / Math.max(1, s.done)).toFixed(2)} ms CPU per create, peak RSS ${f0(m.peakRssMiB)} MiB, event-loop lag max ${f0(m.lagMaxMs)} ms; beside it, per create: ${Number.isNaN(m.dbCpuSeconds) ? '' : `MariaDB ${((m.dbCpuSeconds * 1000) / Math.max(1, s.done)).toFixed(2)} ms, `}the bench process (clients, simulated hosts) ${((m.benchCpuSeconds * 1000) / Math.max(1, s.done)).toFixed(2)} ms`, load: m.load, ms: (m.cpuSeconds * 1000) / Math.max(1, s.done), target: 'RSS < 2 GiB', met: m.peakRssMiB < 2048 },
  ];
}

async function dbSizeMiB(b: Bench): Promise<number> {
  if (b.dbKind === 'sqlite') {
    const base = join(b.dataDir, 'strato.db');
    return ['', '-wal', '-shm'].map((s) => (existsSync(base + s) ? statSync(base + s).size : 0)).reduce((x, y) => x + y, 0) / 2 ** 20;
  }
  const r = await sql<{ n: number }>`SELECT SUM(data_length + index_length) AS n FROM information_schema.tables WHERE table_schema = ${b.mysqlName}`.execute(b.db);
  return Number(r.rows[0]?.n ?? 0) / 2 ** 20;
}

/** 2: at rest, every host pinged at the 60 s default. */
export async function restScenario(b: Bench, seconds: number): Promise<Row[]> {
  await b.client.setConfig('host', 'ping.interval', 60);
  await new Promise((r) => setTimeout(r, 5000)); // what the previous scenario left in flight settles
  const vms = Number((await b.db.selectFrom('vm_instance').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  const w = new Window(b.node);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const m = w.end();
  const size = await dbSizeMiB(b);
  const name = `2 at rest: ${b.hosts.toLocaleString('en-US')} hosts pinged every 60 s, ${vms.toLocaleString('en-US')} VMs`;
  return [
    { scenario: name, figure: `node CPU over ${f0(m.seconds)} s`, measured: `${f1(m.cpuShare * 100)} % of one core (${f1(m.cpuSeconds)} CPU-s), event-loop lag max ${f0(m.lagMaxMs)} ms`, load: m.load, target: '< 25 % of one core', met: m.cpuShare < 0.25 },
    { scenario: name, figure: 'RSS, database size', measured: `RSS ${f0(m.rssMiB)} MiB (peak ${f0(m.peakRssMiB)}), database ${f0(size)} MiB`, load: m.load, target: 'RSS < 2 GiB', met: m.peakRssMiB < 2048 },
  ];
}

/** 3: paged, filtered, sorted queries with replyWithCount; own fields, a nested field, a tag. */
export async function queryScenario(b: Bench, rows: number, perShape: number, p95Target: number): Promise<Row[]> {
  const GiB = 2 ** 30;
  const q = (conds: string[]) => `/vm-instances?${conds.map((c) => `q=${encodeURIComponent(c)}`).join('&')}&sort=-createDate&limit=100&start=100&replyWithCount=true`;
  const shapes = [
    { label: 'own fields (state=Running, memorySize>=2G)', path: q(['state=Running', `memorySize>=${2 * GiB}`]) },
    { label: 'nested (vmNics.ip~=10.0.1.%, state=Running)', path: q(['vmNics.ip~=10.0.1.%', 'state=Running']) },
    { label: 'tag (__userTag__=bench::group-7, state=Running)', path: q(['__userTag__=bench::group-7', 'state=Running']) },
  ];
  const out: Row[] = [];
  const all: number[] = [];
  const name = `3 query over ${rows.toLocaleString('en-US')} VMs, 10 clients (sort -createDate, limit 100 from 100, replyWithCount)`;
  const w0 = new Window(b.node);
  for (const shape of shapes) {
    const check = await b.client.send('GET', shape.path);
    if (check.status !== 200) throw new Error(`${shape.label}: ${check.status} ${JSON.stringify(check.body).slice(0, 300)}`);
    const w = new Window(b.node);
    // The replies are read to their end but not decoded (the check above parsed one): a remote client
    // spends that CPU on its own machine, here it would take it from the node's two cores.
    const times = await pool(perShape, 10, async () => {
      const t = performance.now();
      const r = await b.client.send('GET', shape.path, undefined, {}, true);
      if (r.status !== 200 || !String(r.body).startsWith('{"inventories":[')) throw new Error(`${shape.label}: ${r.status} ${String(r.body)}`);
      return performance.now() - t;
    });
    const m = w.end();
    const clientMs = (m.benchCpuSeconds * 1000) / perShape;
    times.sort((x, y) => x - y);
    all.push(...times);
    const s = { p50: pct(times, 50), p95: pct(times, 95), p99: pct(times, 99) };
    out.push({ scenario: name, figure: `${shape.label}; total ${check.body.total}`, measured: `p50 ${f1(s.p50)} ms, p95 ${f1(s.p95)} ms, p99 ${f1(s.p99)} ms; ${((m.cpuSeconds * 1000) / perShape).toFixed(2)} ms node CPU per query (load generator ${clientMs.toFixed(2)} ms)`, load: m.load, ms: s.p95, target: `p95 < ${p95Target} ms`, met: s.p95 < p95Target });
  }
  const m = w0.end();
  all.sort((x, y) => x - y);
  const p95 = pct(all, 95);
  out.push({ scenario: name, figure: `all three shapes (${all.length} queries)`, measured: `p50 ${f1(pct(all, 50))} ms, p95 ${f1(p95)} ms, p99 ${f1(pct(all, 99))} ms; ${f1(all.length / m.seconds)} queries/s`, load: m.load, ms: p95, target: `p95 < ${p95Target} ms`, met: p95 < p95Target });
  return out;
}

/** 4: a burst of creates sent at once while every simulated agent answers 5 s late. */
export async function burstScenario(b: Bench, count: number, delayMs: number): Promise<Row[]> {
  await b.client.setConfig('benchScale', 'agentDelayMs', delayMs);
  const w = new Window(b.node);
  const t0 = performance.now();
  const results = await Promise.all(Array.from({ length: count }, (_, i) => b.hooks.run(b.client, 'POST', '/vm-instances', vmParams(b.env, `bench-burst-${i}`))));
  const m = w.end();
  await b.client.setConfig('benchScale', 'agentDelayMs', 0);
  const s = summarize(results);
  const acceptAll = Math.max(...results.map((r) => r.acceptedMs).filter((x) => !Number.isNaN(x)));
  const completeAll = (performance.now() - t0) / 1000;
  const name = `4 burst: ${count.toLocaleString('en-US')} creates at once, agents answer after ${delayMs / 1000} s`;
  return [
    { scenario: name, figure: 'time to accept all (last 202), to complete all', measured: `accepted ${f1(acceptAll / 1000)} s, completed ${f1(completeAll)} s; ${s.done} done, ${s.failed} failed${s.firstError ? `: ${s.firstError.slice(0, 100)}` : ''}`, load: m.load, ms: completeAll * 1000, target: '< 60 s, 0 failures', met: completeAll < 60 && s.failed === 0 },
    { scenario: name, figure: 'peak RSS, event-loop lag', measured: `peak RSS ${f0(m.peakRssMiB)} MiB; lag max ${f0(m.lagMaxMs)} ms, worst 1-s p99 ${f0(m.lagP99Ms)} ms; ${f0(m.cpuShare * 100)} % of one core`, load: m.load, target: 'RSS < 2 GiB', met: m.peakRssMiB < 2048 },
  ];
}

/** 5: stop the node (SIGTERM) and start it again on the same database. */
export async function restartScenario(b: Bench, spawnNode: () => NodeProcess): Promise<Row[]> {
  const vms = Number((await b.db.selectFrom('vm_instance').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  const tStop = performance.now();
  await b.node.stop();
  const stopMs = performance.now() - tStop;
  const node = spawnNode();
  b.node = node;
  const w = new Window(node);
  const apiMs = await node.waitFor(async () => {
    const r = await b.client.send('GET', '/zones?limit=1');
    return r.status === 200;
  }, 120_000);
  const connectedMs = await node.waitFor(async () => {
    if ((node.stats.at(-1)?.agents ?? 0) < b.hosts) return false;
    const r = await b.client.send('GET', `/hosts?q=${encodeURIComponent('status=Connected')}&count=true`);
    return r.status === 200 && r.body.total === b.hosts;
  }, 600_000);
  const m = w.end();
  const name = `5 restart with ${b.hosts.toLocaleString('en-US')} hosts, ${vms.toLocaleString('en-US')} VMs`;
  return [
    { scenario: name, figure: 'API answers (an authenticated GET) after start', measured: `${f0(apiMs)} ms (the old node took ${f0(stopMs)} ms to stop)`, load: m.load, ms: apiMs, target: '< 5 s', met: apiMs < 5000 },
    { scenario: name, figure: 'every host reached by the new process and Connected', measured: `${f1(connectedMs / 1000)} s after start; peak RSS ${f0(m.peakRssMiB)} MiB`, load: m.load, ms: connectedMs, target: '< 60 s', met: connectedMs < 60_000 },
  ];
}

/** 6: ops on one VM (serialized in its queue) interleaved with ops on other VMs: the others' throughput. */
export async function hotspotScenario(b: Bench, hotOps: number, otherOps: number): Promise<Row[]> {
  const [hot, ...others] = b.vmUuids;
  if (!hot || others.length === 0) throw new Error('the hot-spot scenario needs VMs created through the API');
  const update = (uuid: string, i: number) => b.hooks.run(b.client, 'PUT', `/vm-instances/${uuid}/actions`, { updateVmInstance: { description: `op ${i}` } });
  const runOthers = async () => {
    const t = performance.now();
    const r = await pool(otherOps, b.clients, (i) => update(others[i % others.length], i));
    return { s: summarize(r), rate: r.filter((x) => x.ok).length / ((performance.now() - t) / 1000) };
  };
  // Undisturbed before and after the mixed run, averaged: a warming or cooling node (or machine) does not pass for the hot spot's effect.
  const w0 = new Window(b.node);
  const before = await runOthers();
  const w1 = new Window(b.node);
  const hotRun = pool(hotOps, 50, (i) => update(hot, i));
  const mixed = await runOthers();
  const hotResults = await hotRun;
  const m1 = w1.end();
  const after = await runOthers();
  const m0 = w0.end();
  const alone = { rate: (before.rate + after.rate) / 2, s: after.s.failed > before.s.failed ? after.s : before.s };
  const hs = summarize(hotResults);
  const ratio = mixed.rate / alone.rate;
  const name = `6 hot spot: ${hotOps.toLocaleString('en-US')} UpdateVmInstance on one VM (50 clients) beside ${otherOps.toLocaleString('en-US')} on other VMs (${b.clients} clients)`;
  return [
    { scenario: name, figure: 'other VMs undisturbed (mean of a run before and one after)', measured: `${f1(alone.rate)} ops/s (${f1(before.rate)} before, ${f1(after.rate)} after), ${lat(alone.s)}, ${before.s.failed + after.s.failed} failed`, load: m0.load, rate: alone.rate, target: '—' },
    { scenario: name, figure: 'other VMs beside the hot spot', measured: `${f1(mixed.rate)} ops/s (${(ratio * 100).toFixed(0)} % of undisturbed), ${lat(mixed.s)}, ${mixed.s.failed} failed; hot VM: ${hs.done} done, ${hs.failed} failed, ${lat(hs)}`, load: m1.load, rate: mixed.rate, target: '≥ 90 % of undisturbed, 0 failures', met: ratio >= 0.9 && mixed.s.failed === 0 && hs.failed === 0 },
  ];
}
