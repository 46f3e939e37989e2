import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { agentDataDirOf } from '../../src/plugins/kvm/index.ts';
import { tinyGuest } from '../agent/tiny-guest.ts';
import { createPretendHost, type PretendHost } from '../support/pretend-host.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const LONG = 300_000;

/**
 * `strato serve --all-in-one` run on a pretend host (the node inside its namespace, as on a machine of
 * its own): it adds the machine as its own KVM host over SSH, an image store, storage and a network,
 * and starts a first VM from the built-in image, which boots.
 */
describe('strato serve --all-in-one', () => {
  let h: PretendHost | undefined;
  let serve: ChildProcess | undefined;
  let dataDir: string | undefined;

  afterAll(async () => {
    serve?.kill('SIGKILL');
    await h?.destroy();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }, LONG);

  it('makes this machine a KVM host and boots a first VM on it', async () => {
    const image = pathToFileURL(join(tinyGuest(), 'tiny-guest.qcow2')).href;
    h = await createPretendHost();
    dataDir = await mkdtemp(join(tmpdir(), 'strato-test-aio-'));
    const args = [join(ROOT, 'bin/strato.js'), 'serve', '--port', '8080', '--host', '0.0.0.0', '--data-dir', dataDir, '--all-in-one', '--host-ip', h.ip, '--ssh-key-file', join(h.dir, 'id'), '--image', image];
    serve = spawn('ip', ['netns', 'exec', h.name, process.execPath, ...args], { cwd: ROOT, env: { ...process.env, STRATO_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    serve.stdout!.on('data', (d) => (out += String(d)));
    serve.stderr!.on('data', (d) => (out += String(d)));
    const vm = await waitFor(() => /VM first-vm ([0-9a-f]{32}) is Running/.exec(out)?.[1], () => `strato serve --all-in-one did not start a VM:\n${out}`, LONG - 60_000);
    const host = /KVM host ([0-9a-f]{32}) Connected/.exec(out)![1];
    const serial = join(agentDataDirOf(join(dataDir, 'agents'), host), 'logs', `${vm}.serial.log`);
    await waitFor(() => existsSync(serial) && readFileSync(serial, 'utf8').includes('TINYGUEST-BOOTED'), () => `no TINYGUEST-BOOTED in ${serial}`, 120_000);
    expect(out).toContain('is up.');
  }, LONG);
});

async function waitFor<T>(fn: () => T | undefined | false, what: () => string, timeoutMs: number): Promise<T> {
  const started = Date.now();
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() - started > timeoutMs) throw new Error(what());
    await new Promise((r) => setTimeout(r, 250));
  }
}
