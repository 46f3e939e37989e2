/**
 * `npm run bench:core` — the core framework's throughput beside same-run baselines, written to
 * bench/REPORT.md (the "core" section). Flags: --quick (smaller runs), --no-mysql.
 */
import { cpus, freemem, totalmem } from 'node:os';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { createPool } from 'mysql2';
import { benchBusCalls } from '../../src/core/bus/bus.bench.ts';
import { benchWorkQueues } from '../../src/core/queue/work-queues.bench.ts';
import { benchPlainCalls, benchRawSqliteInserts } from './baselines.ts';
import { benchHelloWorld, benchZoneRead, type HttpFigures } from './http.ts';
import { benchJournaledFlows } from './journaled-flows.ts';

const quick = process.argv.includes('--quick');
const withMysql = !process.argv.includes('--no-mysql');
const scale = quick ? 0.1 : 1;
const httpSeconds = quick ? 3 : 10;
const connections = 50;

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const rows: string[] = [];
const log = (s: string) => process.stdout.write(`${s}\n`);

log('bench:core — in-process bus calls');
const plain = await benchPlainCalls(2_000_000 * scale);
const bus = await benchBusCalls({ calls: 1_000_000 * scale, concurrency: 64 });
rows.push(`| in-process bus calls/s (trivial handler, 64 in flight) | ${fmt(bus.callsPerSecond)} | plain awaited function calls/s: ${fmt(plain.callsPerSecond)} | ${(bus.callsPerSecond / plain.callsPerSecond).toFixed(3)} | ≥ 100,000 | ${bus.callsPerSecond >= 100_000 ? 'met' : 'MISSED'} |`);

log('bench:core — work queue tasks');
const queues = await benchWorkQueues({ tasks: 1_000_000 * scale, signatures: 1000 });
rows.push(`| work-queue tasks/s (1,000 signatures) | ${fmt(queues.tasksPerSecond)} | plain awaited function calls/s: ${fmt(plain.callsPerSecond)} | ${(queues.tasksPerSecond / plain.callsPerSecond).toFixed(3)} | — | — |`);

log('bench:core — journaled flows');
const raw = benchRawSqliteInserts(100_000 * scale);
const flowsSqlite = await benchJournaledFlows('sqlite', Math.round(20_000 * scale), 16);
rows.push(`| 8-step journaled flows/s, SQLite (16 in flight) | ${fmt(flowsSqlite.flowsPerSecond)} | raw SQLite inserts/s: ${fmt(raw.insertsPerSecond)} | ${(flowsSqlite.flowsPerSecond / raw.insertsPerSecond).toFixed(3)} | ≥ 2,000 | ${flowsSqlite.flowsPerSecond >= 2000 ? 'met' : 'MISSED'} |`);
const flowsSqliteSerial = await benchJournaledFlows('sqlite', Math.round(5_000 * scale), 1);
rows.push(`| 8-step journaled flows/s, SQLite (one at a time) | ${fmt(flowsSqliteSerial.flowsPerSecond)} | raw SQLite inserts/s: ${fmt(raw.insertsPerSecond)} | ${(flowsSqliteSerial.flowsPerSecond / raw.insertsPerSecond).toFixed(3)} | — | — |`);
if (withMysql) {
  const flowsMysql = await benchJournaledFlows('mysql', Math.round(5_000 * scale), 16);
  rows.push(`| 8-step journaled flows/s, MariaDB (16 in flight) | ${fmt(flowsMysql.flowsPerSecond)} | raw SQLite inserts/s: ${fmt(raw.insertsPerSecond)} | ${(flowsMysql.flowsPerSecond / raw.insertsPerSecond).toFixed(3)} | — (target is for SQLite) | — |`);
}

log('bench:core — REST reads against a Fastify hello-world');
const hello = await benchHelloWorld(httpSeconds, connections);
const httpRow = (label: string, f: HttpFigures) => {
  const ratio = f.requestsPerSecond / hello.requestsPerSecond;
  return `| ${label} | ${fmt(f.requestsPerSecond)} (p50 ${f.p50Ms} ms, p99 ${f.p99Ms} ms, ${f.errors} errors) | Fastify hello-world req/s: ${fmt(hello.requestsPerSecond)} | ${ratio.toFixed(3)} | ≥ 0.30 | ${ratio >= 0.3 && f.errors === 0 ? 'met' : 'MISSED'} |`;
};
rows.push(httpRow('`GET /zstack/v1/zones/{uuid}` req/s, SQLite', await benchZoneRead('sqlite', httpSeconds, connections)));
if (withMysql) {
  const name = `strato_bench_${Date.now().toString(36)}`;
  try {
    rows.push(httpRow('`GET /zstack/v1/zones/{uuid}` req/s, MariaDB', await benchZoneRead(`mysql://root@127.0.0.1:3306/${name}`, httpSeconds, connections)));
  } finally {
    const pool = createPool({ host: '127.0.0.1', user: 'root', connectionLimit: 1 });
    await pool.promise().query(`DROP DATABASE IF EXISTS \`${name}\``);
    await new Promise<void>((r) => pool.end(() => r()));
  }
}

const cpu = cpus();
const section = [
  '## Core framework (`npm run bench:core`)',
  '',
  `Run ${new Date().toISOString()}${quick ? ' (--quick: 1/10 sizes, 3 s HTTP runs)' : ''}. Machine: ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM (${(freemem() / 2 ** 30).toFixed(1)} GiB free), Node ${process.version}, ${process.platform}.`,
  `HTTP runs: autocannon, ${connections} connections, ${httpSeconds} s after a 2 s warm-up; server and load generator share the machine's cores, for the baseline and for Strato alike. Strato runs as \`strato serve\` (logs at warn), reading one of 1,000 zones with a valid session.`,
  '',
  '| figure | Strato | same-run baseline | ratio | target | |',
  '| --- | --- | --- | --- | --- | --- |',
  ...rows,
  '',
].join('\n');

const reportPath = resolve(import.meta.dirname, '../REPORT.md');
const header = '# Strato benchmarks\n\nEach section is rewritten by the command in its heading; figures are from the run it names.\n\n';
let report = existsSync(reportPath) ? readFileSync(reportPath, 'utf8') : header;
const start = report.indexOf('## Core framework');
if (start >= 0) {
  const end = report.indexOf('\n## ', start + 1);
  report = report.slice(0, start) + section + (end >= 0 ? report.slice(end + 1) : '');
} else {
  report = report.trimEnd() + '\n\n' + section;
}
writeFileSync(reportPath, report);
log(section);
