/**
 * `npm run bench:scale` — issue 7: one management node, 10,000 simulated hosts and 100,000 VMs.
 * Scenarios (--scenario picks some, comma-separated; the creates always run, the rest need VMs):
 *   create   1: --vms creates through REST from --clients clients (creates/s, latency, failures)
 *   rest     2: --rest-seconds at rest, hosts pinged at the 60 s default (CPU share, RSS, DB size)
 *   query    3: paged/filtered/sorted/counted queries, own fields, nested, tag, over --query-rows rows
 *   hotspot  6: --hot-ops updates of one VM beside --other-ops updates of others (throughput kept?)
 *   restart  5: SIGTERM and start again (API answers, every host reached and Connected)
 *   burst    4: --burst creates at once, agents answering after --burst-delay-ms (accept, complete, RSS, lag)
 *   query-big 3 again after a bulk top-up to --query-rows-big rows
 * Same-run baselines: Fastify hello-world req/s and raw SQLite inserts/s; every figure also as a ratio.
 * Flags: --db sqlite|mysql --hosts N --vms N --clients N --query-rows N --query-rows-big N --queries N
 *   --burst N --burst-delay-ms N --hot-ops N --other-ops N --rest-seconds N --scenario a,b
 *   --mysql-socket PATH (MariaDB through its Unix socket, e.g. /run/mysqld/mysqld.sock, instead of TCP)
 *   --cpu-prof DIR (the node writes a CPU profile there when it stops) --no-report (print only)
 *   --keep-data (leave the database behind for a look at its query plans; its path is printed)
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPool } from 'mysql2';
import { openDatabase } from '../../src/core/db/index.ts';
import { benchRawSqliteInserts } from '../core/baselines.ts';
import { benchHelloWorld } from '../core/http.ts';
import { tagCreatedVms, topUpVms } from './bulk-rows.ts';
import { Client, Hooks } from './client.ts';
import { buildBenchEnv } from './environment.ts';
import { measureDatabaseProcess, type Row } from './measure.ts';
import { freePort, NodeProcess } from './node-process.ts';
import { writeSection } from './report.ts';
import { burstScenario, createScenario, hotspotScenario, queryScenario, restartScenario, restScenario, type Bench } from './scenarios.ts';

const argv = process.argv.slice(2);
const flag = (name: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const num = (name: string, def: number) => Number(flag(name) ?? def);
const dbKind = flag('db') === 'mysql' ? 'mysql' : 'sqlite';
const HOSTS = num('hosts', 10_000);
const VMS = num('vms', 100_000);
const CLIENTS = num('clients', 100);
const QUERY_ROWS = num('query-rows', 100_000);
const QUERY_ROWS_BIG = num('query-rows-big', 1_000_000);
const QUERIES = num('queries', 300);
const BURST = num('burst', 10_000);
const BURST_DELAY = num('burst-delay-ms', 5000);
const HOT_OPS = num('hot-ops', 1000);
const OTHER_OPS = num('other-ops', 10_000);
const REST_SECONDS = num('rest-seconds', 120);
const scenarios = new Set((flag('scenario') ?? 'create,rest,query,hotspot,restart,burst,query-big').split(','));
const cpuProfDir = flag('cpu-prof');
const log = (s: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);

const startedAt = new Date();
const loadAtStart = loadavg()[0];
log(`bench:scale on ${dbKind}: ${HOSTS} hosts, ${VMS} VMs, ${CLIENTS} clients; scenarios ${[...scenarios].join(',')}; load ${loadAtStart.toFixed(1)}`);
const hello = await benchHelloWorld(5, 50);
const inserts = benchRawSqliteInserts(50_000);
const baselines = { helloRps: hello.requestsPerSecond, sqliteInsertsPerSec: inserts.insertsPerSecond };
log(`baselines: hello-world ${baselines.helloRps.toFixed(0)} req/s, raw SQLite ${baselines.sqliteInsertsPerSec.toFixed(0)} inserts/s`);

const dataDir = mkdtempSync(join(tmpdir(), 'strato-bench-scale-'));
const mysqlName = `strato_bench_scale_${Date.now().toString(36)}`;
const mysqlSocket = flag('mysql-socket');
const dbUrl = dbKind === 'mysql' ? `mysql://root@127.0.0.1:3306/${mysqlName}${mysqlSocket ? `?socketPath=${encodeURIComponent(mysqlSocket)}` : ''}` : undefined;
// MariaDB runs on this machine (127.0.0.1): its CPU is measured beside the node's.
if (dbKind === 'mysql') measureDatabaseProcess(localDatabasePid());
const port = await freePort();
// The restart scenario spawns a second process: `current` is whichever runs now.
let current: NodeProcess | undefined;
const spawnNode = () => (current = NodeProcess.spawn({ port, dataDir, dbUrl, cpuProfDir }));
const node = spawnNode();
const client = new Client(`http://127.0.0.1:${port}`);
const hooks = new Hooks();
const rows: Row[] = [];
let envNote: string | undefined;
try {
  // The admin account exists once the modules have started, a moment after the port opens.
  await node.waitFor(() => client.login().then(() => true), 120_000);
  await hooks.start();
  await client.setConfig('simulator', 'agentTransport', 'inProcess'); // no sockets per simulated host
  const t0 = performance.now();
  const { env, hostSeconds } = await buildBenchEnv(client, hooks, HOSTS);
  envNote = `environment built in ${((performance.now() - t0) / 1000).toFixed(0)} s (${HOSTS} AddSimulatorHost from 50 clients: ${(HOSTS / hostSeconds).toFixed(0)} hosts/s)`;
  log(envNote);
  const database = await openDatabase(dbUrl ?? `sqlite:${join(dataDir, 'strato.db')}`);
  const b: Bench = { client, hooks, node, env, db: database.db, dbKind, dbUrl, dataDir, mysqlName, hosts: HOSTS, clients: CLIENTS, log, vmUuids: [] };
  const step = async (name: string, run: () => Promise<Row[]>) => {
    log(`scenario ${name}…`);
    const r = await run();
    rows.push(...r);
    for (const x of r) log(`  ${x.figure}: ${x.measured} [load ${x.load}]${x.met === false ? ' MISSED' : ''}`);
    report(`partial: written after scenario ${name}`); // a run stopped later still leaves its figures
  };
  try {
    await step('create', () => createScenario(b, VMS));
    if (scenarios.has('rest')) await step('rest', () => restScenario(b, REST_SECONDS));
    if (scenarios.has('query')) {
      await tagCreatedVms(b.db);
      const t = await topUpVms(b.db, QUERY_ROWS);
      log(`query set: ${t.added} rows added in ${t.seconds.toFixed(1)} s`);
      await settleStatistics();
      await step('query', () => queryScenario(b, Math.max(QUERY_ROWS, b.vmUuids.length), QUERIES, 20));
    }
    if (scenarios.has('hotspot')) await step('hotspot', () => hotspotScenario(b, HOT_OPS, OTHER_OPS));
    if (scenarios.has('restart')) await step('restart', () => restartScenario(b, spawnNode));
    if (scenarios.has('burst')) await step('burst', () => burstScenario(b, BURST, BURST_DELAY));
    if (scenarios.has('query-big')) {
      await tagCreatedVms(b.db);
      const t = await topUpVms(b.db, QUERY_ROWS_BIG);
      log(`query set: ${t.added} rows added in ${t.seconds.toFixed(1)} s (${(t.added / t.seconds).toFixed(0)} rows/s with their NICs)`);
      await settleStatistics();
      await step('query-big', () => queryScenario(b, QUERY_ROWS_BIG, QUERIES, 200));
    }
  } finally {
    await database.close();
  }
} finally {
  await cleanUp();
}

/**
 * Rows bulk-inserted by this process appear at once, where creates add them over minutes: on SQLite
 * wait for the node's once-a-minute planner statistics pass (`PRAGMA optimize`) to see the new size, as
 * it would have long since in a cloud that grew to it.
 */
async function settleStatistics(): Promise<void> {
  if (dbKind !== 'sqlite') return;
  log('waiting 65 s for the node\'s statistics pass');
  await new Promise((r) => setTimeout(r, 65_000));
}

async function cleanUp(): Promise<void> {
  client.close();
  await hooks.close();
  await node.stop();
  await current?.stop();
  if (argv.includes('--keep-data')) {
    log(`kept: ${dbUrl ?? join(dataDir, 'strato.db')}`);
    return;
  }
  rmSync(dataDir, { recursive: true, force: true });
  if (dbKind === 'mysql') {
    const pool = createPool({ host: '127.0.0.1', user: 'root', connectionLimit: 1 });
    await pool.promise().query(`DROP DATABASE IF EXISTS \`${mysqlName}\``);
    await new Promise<void>((r) => pool.end(() => r()));
  }
}

report();

function report(partial?: string): void {
  writeSection({
    dbKind,
    startedAt,
    settings: `${partial ? `(${partial}) ` : ''}${HOSTS.toLocaleString('en-US')} simulated hosts (in-process agents), ${VMS.toLocaleString('en-US')} creates from ${CLIENTS} clients (results by X-Web-Hook); queries ${QUERIES} per shape; burst ${BURST.toLocaleString('en-US')} with agents ${BURST_DELAY} ms late; hot spot ${HOT_OPS}+${OTHER_OPS}; at rest ${REST_SECONDS} s. ${envNote ?? ''}. Load average at the start: ${loadAtStart.toFixed(1)}.`,
    argv,
    baselines,
    rows,
    write: !argv.includes('--no-report'),
    log: partial ? () => undefined : log,
  });
}

/** The PID of this machine's MariaDB server (Debian's pid file, else the first mariadbd or mysqld in /proc). */
function localDatabasePid(): number | undefined {
  try {
    const pid = Number(readFileSync('/run/mysqld/mysqld.pid', 'utf8').trim());
    if (pid > 0) return pid;
  } catch {
    // no pid file: look for the process
  }
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (/^(mariadbd|mysqld)$/.test(readFileSync(`/proc/${d}/comm`, 'utf8').trim())) return Number(d);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}
