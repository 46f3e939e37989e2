import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ServiceModule } from '../core/node-context.ts';
import { apiCatalog } from '../api/catalog.ts';
import { buildAllInOne, stopAllInOne, type AllInOneOptions } from '../cli/all-in-one.ts';
import { demoEnvironment } from '../cli/demo-environment.ts';
import { buildEnvironment } from '../cli/environment.ts';
import { ManagementNode } from './management-node.ts';

/** `strato serve`: a management node on SQLite in the data directory unless `--db` says otherwise. */
export async function serve(o: { port: number; host: string; dataDir: string; dbUrl?: string; advertiseHost?: string; demo?: boolean; allInOne?: Omit<AllInOneOptions, 'dataDir' | 'log' | 'nodeUrl'> }): Promise<void> {
  const dbUrl = o.dbUrl ?? `sqlite:${resolve(o.dataDir, 'strato.db')}`;
  const modules = await loadExtraModules(process.env.STRATO_EXTRA_MODULES);
  const node = await ManagementNode.start({ dbUrl, port: o.port, host: o.host, advertiseHost: o.advertiseHost, modules });
  process.stdout.write(`Strato management node ${node.nodeUuid} is up.\n  API:     ${node.url}/zstack/v1/  (OpenAPI at ${node.url}/zstack/v1/openapi.json)\n  Metrics: ${node.url}/metrics\n  Log in:  npx strato cli LogInByAccount accountName=admin password=password\n`);
  // Set before the builds below: Ctrl-C during the all-in-one's (minutes) also stops its sshd.
  let stopping = false;
  const shutdown = async (signal: string) => {
    stopping = true;
    process.stdout.write(`\n${signal}: stopping…\n`);
    await node.stop();
    if (o.allInOne) stopAllInOne(o.allInOne);
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  if (o.demo) await buildDemo(node);
  if (o.allInOne) {
    const local = node.url.replace(/\/\/[^:/]+:/, '//127.0.0.1:');
    // With an operator's SSH login the host is this machine's advertised address; else 127.0.0.1 (all-in-one.ts).
    const hostIp = o.allInOne.hostIp ?? new URL(node.url).hostname;
    try {
      await buildAllInOne(local, { ...o.allInOne, hostIp, dataDir: resolve(o.dataDir), nodeUrl: node.url, log: (line) => process.stdout.write(`${line}\n`) });
    } catch (e) {
      if (stopping) return; // interrupted: the shutdown does the rest
      // A quick start that could not finish says why and stops, rather than serving half a cloud silently.
      process.stderr.write(`All-in-one failed: ${e instanceof Error ? e.message : String(e)}\n`);
      await node.stop();
      stopAllInOne(o.allInOne);
      process.exit(1);
    }
  }
}

/**
 * Site plugins: `STRATO_EXTRA_MODULES` lists module files (separated by `,`) whose default export is a
 * ServiceModule or an array of them; they load after the built-in services. Operators use it for
 * local extensions; the test suite uses it to load test-only plugins into a real `strato serve`.
 *
 * @example
 *   STRATO_EXTRA_MODULES=/etc/strato/plugins/quota.ts strato serve --port 8080
 */
export async function loadExtraModules(spec: string | undefined): Promise<ServiceModule[]> {
  const files = (spec ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  const out: ServiceModule[] = [];
  for (const file of files) {
    const mod = (await import(pathToFileURL(resolve(file)).href)) as { default?: ServiceModule | ServiceModule[] };
    const exported = mod.default;
    const list = Array.isArray(exported) ? exported : exported ? [exported] : [];
    if (list.length === 0 || list.some((m) => typeof m?.id !== 'string' || typeof m.setup !== 'function')) {
      throw new Error(`STRATO_EXTRA_MODULES: ${file} must default-export a ServiceModule (or an array of them) with an id and a setup()`);
    }
    out.push(...list);
  }
  return out;
}

/** `--demo`: a small simulated cloud built through the API, unless the database already has one. */
async function buildDemo(node: ManagementNode): Promise<void> {
  const existing = await node.ctx.db.selectFrom('zone').select('uuid').where('name', '=', 'demo-zone').executeTakeFirst();
  if (existing) {
    process.stdout.write('  Demo:    already built in this database (zone demo-zone)\n');
    return;
  }
  const withVms = apiCatalog.some((a) => a.name === 'CreateVmInstance');
  const local = node.url.replace(/\/\/[^:/]+:/, '//127.0.0.1:');
  const env = await buildEnvironment(local, demoEnvironment(withVms));
  process.stdout.write(`  Demo:    built a simulated cloud of ${env.uuids.size} resources (zone demo-zone, 3 hosts, storage, networks, an image, offerings${withVms ? ', 3 VMs' : ''})\n`);
}
