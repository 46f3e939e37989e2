import { resolve } from 'node:path';
import { ManagementNode } from './management-node.ts';

/** `strato serve`: a management node on SQLite in the data directory unless `--db` says otherwise. */
export async function serve(o: { port: number; host: string; dataDir: string; dbUrl?: string }): Promise<void> {
  const dbUrl = o.dbUrl ?? `sqlite:${resolve(o.dataDir, 'strato.db')}`;
  const node = await ManagementNode.start({ dbUrl, port: o.port, host: o.host });
  process.stdout.write(`Strato management node ${node.nodeUuid} is up.\n  API:     ${node.url}/zstack/v1/  (OpenAPI at ${node.url}/zstack/v1/openapi.json)\n  Metrics: ${node.url}/metrics\n  Log in:  npx strato cli LogInByAccount accountName=admin password=password\n`);
  const shutdown = async (signal: string) => {
    process.stdout.write(`\n${signal}: stopping…\n`);
    await node.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
}
