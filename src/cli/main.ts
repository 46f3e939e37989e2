import { Command } from 'commander';
import { runCli } from './cli-command.ts';

const program = new Command();
program.name('strato').description('Strato: an open private-cloud platform with a ZStack-compatible API').version('0.1.0');

program
  .command('serve')
  .description('start a management node')
  .option('--port <port>', 'HTTP port of the API', '8080')
  .option('--host <address>', 'address to listen on', '0.0.0.0')
  .option('--data-dir <dir>', 'data directory (SQLite database, logs)', process.env.STRATO_DATA_DIR ?? './data')
  .option('--db <url>', 'database URL: sqlite:<file> (default: <data-dir>/strato.db) or mysql://user@host:3306/strato')
  .option('--advertise-host <address>', 'the address other management nodes reach this one at (default: --host, or the first non-loopback IPv4 address)', process.env.STRATO_ADVERTISE_HOST)
  .option('--demo', 'build a small simulated cloud (zone, hosts, storage, networks, an image, offerings, VMs) on first start', false)
  .action(async (opts: { port: string; host: string; dataDir: string; db?: string; advertiseHost?: string; demo: boolean }) => {
    const { serve } = await import('../node/serve.ts');
    await serve({ port: Number(opts.port), host: opts.host, dataDir: opts.dataDir, dbUrl: opts.db, advertiseHost: opts.advertiseHost, demo: opts.demo });
  });

program
  .command('cli')
  .description('call any API by its ZStack name: strato cli CreateZone name=z1; strato cli QueryZone name~=z%')
  .option('--url <url>', 'management node URL (default: $STRATO_URL, else the one logged in to, else http://127.0.0.1:8080)')
  .option('--json', 'print JSON instead of a table', false)
  .argument('[words...]', '<ApiName> key=value …')
  .allowUnknownOption(false)
  .action(async (words: string[], opts: { url?: string; json: boolean }) => {
    process.exitCode = await runCli(words, { url: opts.url ?? process.env.STRATO_URL, json: opts.json });
  });

await program.parseAsync(process.argv);
