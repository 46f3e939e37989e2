import { spawn } from 'node:child_process';

/**
 * A plain TCP throughput measurement between two network namespaces: a receiver counting bytes from
 * its first to its last, a sender writing as fast as TCP lets it for `seconds`. Both are Node
 * processes started with `ip netns exec`. Answers bits per second as the receiver saw them.
 */
export async function measureTcp(opts: { receiverNs: string; receiverIp: string; senderNs: string; port: number; seconds: number }): Promise<number> {
  const receiverScript = `
    const net = require('node:net');
    const server = net.createServer((c) => {
      let bytes = 0, first = 0, last = 0;
      c.on('data', (d) => { const t = performance.now(); if (!first) first = t; last = t; bytes += d.length; });
      c.on('end', () => { process.stdout.write(JSON.stringify({ bytes, ms: last - first })); server.close(); c.destroy(); });
    });
    server.listen(${opts.port}, ${JSON.stringify(opts.receiverIp)}, () => process.stdout.write('ready\\n'));
    setTimeout(() => process.exit(3), ${(opts.seconds + 20) * 1000}).unref();`;
  const senderScript = `
    const net = require('node:net');
    const chunk = Buffer.alloc(64 * 1024);
    const c = net.connect(${opts.port}, ${JSON.stringify(opts.receiverIp)}, () => {
      const until = Date.now() + ${opts.seconds * 1000};
      const pump = () => { while (Date.now() < until) { if (!c.write(chunk)) return c.once('drain', pump); } c.end(); };
      pump();
    });
    c.on('error', (e) => { console.error(e.message); process.exit(2); });`;
  const receiver = spawn('ip', ['netns', 'exec', opts.receiverNs, process.execPath, '-e', receiverScript], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  receiver.stdout.on('data', (d: Buffer) => (out += d.toString()));
  receiver.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<number | null>((r) => receiver.on('exit', r));
  try {
    await waitUntil(() => out.includes('ready\n') || receiver.exitCode !== null, 10_000);
    if (!out.includes('ready\n')) throw new Error(`receiver did not start: ${err}`);
    const sender = spawn('ip', ['netns', 'exec', opts.senderNs, process.execPath, '-e', senderScript], { stdio: ['ignore', 'ignore', 'pipe'] });
    let senderErr = '';
    sender.stderr.on('data', (d: Buffer) => (senderErr += d.toString()));
    const code = await new Promise<number | null>((r) => sender.on('exit', r));
    if (code !== 0) throw new Error(`sender failed (${code}): ${senderErr}`);
    await Promise.race([done, new Promise((r) => setTimeout(r, 15_000))]);
    const result = JSON.parse(out.slice(out.indexOf('\n') + 1)) as { bytes: number; ms: number };
    return (result.bytes * 8) / (result.ms / 1000);
  } finally {
    if (receiver.exitCode === null) receiver.kill('SIGKILL');
  }
}

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}
