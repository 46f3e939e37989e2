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
  .option('--all-in-one', 'make this machine its own KVM host (run as root): installs the host packages if missing, starts a loopback-only sshd taking a key it makes in ~/.strato, deploys the agents by Ansible over it, builds the built-in image, and creates local storage, a flat network with DHCP on an isolated dummy interface, and a first VM', false)
  .option('--physical-interface <name>', 'all-in-one: the interface of the flat network (default: strato0, a dummy interface made for it)', 'strato0')
  .option('--ssh-port <port>', 'all-in-one: the port of the loopback sshd (or of your sshd with --ssh-key-file/--ssh-password)')
  .option('--host-ip <address>', 'all-in-one with your own SSH login: this machine\'s address (default: --advertise-host or the first non-loopback IPv4 address)')
  .option('--ssh-user <name>', 'all-in-one with your own SSH login: the user', 'root')
  .option('--ssh-key-file <file>', 'all-in-one with your own SSH login: its private key')
  .option('--ssh-password <password>', 'all-in-one with your own SSH login: or its password ($STRATO_SSH_PASSWORD)', process.env.STRATO_SSH_PASSWORD)
  .option('--image <url>', 'all-in-one: the first VM\'s image (qcow2, http(s):// or file://; default: the built-in tiny guest)')
  .action(async (opts: { port: string; host: string; dataDir: string; db?: string; advertiseHost?: string; demo: boolean; allInOne: boolean; hostIp?: string; physicalInterface: string; sshPort?: string; sshUser: string; sshKeyFile?: string; sshPassword?: string; image?: string }) => {
    const { serve } = await import('../node/serve.ts');
    const allInOne = opts.allInOne ? { hostIp: opts.hostIp, physicalInterface: opts.physicalInterface, sshPort: opts.sshPort ? Number(opts.sshPort) : undefined, sshUser: opts.sshUser, sshKeyFile: opts.sshKeyFile, sshPassword: opts.sshPassword, imageUrl: opts.image } : undefined;
    await serve({ port: Number(opts.port), host: opts.host, dataDir: opts.dataDir, dbUrl: opts.db, advertiseHost: opts.advertiseHost, demo: opts.demo, allInOne });
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

program
  .command('agent')
  .description('start a host agent: runs VMs with QEMU, local storage and image store commands for a management node')
  .option('--port <port>', 'HTTP port', '7070')
  .option('--host <address>', 'address to listen on', '0.0.0.0')
  .option('--data-dir <dir>', 'agent state: VMs, caches, token, logs', process.env.STRATO_AGENT_DATA_DIR ?? '/var/lib/strato-agent')
  .option('--token-file <file>', 'file holding the per-host token (default: <data-dir>/agent-token; $STRATO_AGENT_TOKEN wins)')
  .option('--accel <accel>', 'auto, kvm or tcg', 'auto')
  .action(async (opts: { port: string; host: string; dataDir: string; tokenFile?: string; accel: string }) => {
    const { runAgentProcess } = await import('../agent/main.ts');
    await runAgentProcess({ port: Number(opts.port), host: opts.host, dataDir: opts.dataDir, tokenFile: opts.tokenFile, accel: opts.accel });
  });

await program.parseAsync(process.argv);
