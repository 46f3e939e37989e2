import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { QmpClient } from './qmp-client.ts';

const hasQemu = (() => {
  try {
    execFileSync('sh', ['-c', 'command -v qemu-system-x86_64'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** Against a real QEMU that runs no guest code (`-S`: CPUs never started), so it costs no boot. */
describe.skipIf(!hasQemu)('QmpClient', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  function startQemu(): { sock: string; pid: number } {
    const dir = mkdtempSync('/tmp/strato-test-qmp-');
    const sock = join(dir, 'qmp.sock');
    const child = spawn('qemu-system-x86_64', ['-machine', 'pc', '-accel', 'tcg', '-nodefaults', '-display', 'none', '-S', '-qmp', `unix:${sock},server=on,wait=off`], { stdio: 'ignore' });
    cleanups.push(() => {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });
    return { sock, pid: child.pid! };
  }

  it('negotiates, matches replies to commands, and turns QMP errors into rejections', async () => {
    const { sock } = startQemu();
    const qmp = await QmpClient.connect(sock, 20_000);
    const [status, name] = await Promise.all([qmp.execute<{ status: string; running: boolean }>('query-status'), qmp.execute<Record<string, unknown>>('query-name')]);
    expect(status).toMatchObject({ status: 'prelaunch', running: false });
    expect(name).toEqual({});
    await expect(qmp.execute('no-such-command')).rejects.toThrow(/CommandNotFound/);
    await expect(qmp.execute('device_del', { id: 'nothing' })).rejects.toThrow(/DeviceNotFound|not found/);
    qmp.close();
  }, 30_000);

  it('delivers events and signals close when QEMU exits, failing what was still waiting', async () => {
    const { sock } = startQemu();
    const qmp = await QmpClient.connect(sock, 20_000);
    const closed = new Promise<void>((r) => qmp.once('close', r));
    const shutdown = qmp.waitForEvent('SHUTDOWN', () => true, 10_000);
    await qmp.execute('quit');
    await expect(shutdown).resolves.toMatchObject({ event: 'SHUTDOWN' });
    await closed;
    expect(qmp.closed).toBe(true);
    await expect(qmp.execute('query-status')).rejects.toThrow(/closed/);
  }, 30_000);

  it('gives up connecting to a socket nobody serves', async () => {
    await expect(QmpClient.connect('/tmp/strato-test-qmp-none/qmp.sock', 300)).rejects.toThrow(/no QMP on/);
  });
});
