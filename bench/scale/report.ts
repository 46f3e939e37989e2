/** bench:scale's section of bench/REPORT.md (one per database), rewritten by each run. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { ratios, type Baselines, type Row } from './measure.ts';

export function writeSection(o: { dbKind: 'sqlite' | 'mysql'; startedAt: Date; settings: string; argv: string[]; baselines: Baselines; rows: Row[]; write: boolean; log: (s: string) => void }): void {
  const cpu = cpus();
  const heading = `## Scale (issue 7), ${o.dbKind === 'mysql' ? 'MariaDB' : 'SQLite'} (\`npm run bench:scale${o.dbKind === 'mysql' ? ' -- --db mysql' : ''}\`)`;
  const flags = o.argv.filter((a) => a !== '--no-report').join(' ');
  const body = [
    heading,
    '',
    `Run ${o.startedAt.toISOString()}${flags ? ` with \`${flags}\`` : ' (full sizes)'}. Machine: ${cpu.length} × ${cpu[0]?.model ?? 'CPU'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}. ${o.settings}`,
    `Same-run baselines: Fastify hello-world ${o.baselines.helloRps.toFixed(0)} req/s (autocannon, 50 connections, 5 s), raw SQLite ${o.baselines.sqliteInsertsPerSec.toFixed(0)} inserts/s (better-sqlite3, WAL, one row per transaction). Ratios: a rate divided by the baseline's rate; a duration as how many baseline operations fit in it. "load" is the 1-minute load average at the start → end of the figure's window (the machine is shared).`,
    '',
    '| scenario | figure | measured | load | vs hello-world | vs raw SQLite inserts | target | |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...o.rows.map((r) => {
      const [h, s] = ratios(r, o.baselines);
      return `| ${r.scenario} | ${r.figure} | ${r.measured.replaceAll('|', '/')} | ${r.load} | ${h} | ${s} | ${r.target} | ${r.met === undefined ? '' : r.met ? 'met' : 'MISSED'} |`;
    }),
    '',
  ].join('\n');
  const path = resolve(import.meta.dirname, '../REPORT.md');
  let report = existsSync(path) ? readFileSync(path, 'utf8') : '# Strato benchmarks\n\n';
  const start = report.indexOf(heading);
  if (start >= 0) {
    const end = report.indexOf('\n## ', start + 1);
    report = report.slice(0, start) + body + (end >= 0 ? `\n${report.slice(end + 1)}` : '');
  } else report = `${report.trimEnd()}\n\n${body}`;
  if (o.write) writeFileSync(path, report);
  o.log(`\n${body}`);
}
