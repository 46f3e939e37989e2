import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';

/**
 * Debian's chromium, headless, driven over the DevTools protocol with the `ws` package (no browser
 * download, no playwright): opens `url`, waits until `until` (a page expression) is truthy, and
 * answers its value, with the page's console errors and, if asked, a PNG screenshot. The browser
 * runs in its own process group and profile directory, both removed afterwards.
 *
 * @example
 *   const r = await inHeadlessChromium('http://127.0.0.1:8080/console/vnc.html?token=…', { until: "document.title.includes('QEMU')" });
 */
export async function inHeadlessChromium(url: string, opts: { until: string; timeoutMs?: number; screenshot?: string }): Promise<{ value: unknown; consoleErrors: string[] }> {
  const profile = await mkdtemp(join(tmpdir(), 'strato-test-chromium-'));
  // TMPDIR in the profile: Chromium's own temporary directories (org.chromium.Chromium.*) go with it
  const chrome = spawn('chromium', ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', '--remote-debugging-port=0', `--user-data-dir=${profile}`, '--window-size=1024,768', 'about:blank'], { stdio: 'ignore', detached: true, env: { ...process.env, TMPDIR: profile } });
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  let ws: WebSocket | undefined;
  try {
    // Chromium writes the port it chose to DevToolsActivePort in the profile.
    const portFile = join(profile, 'DevToolsActivePort');
    while (!existsSync(portFile) || !readFileSync(portFile, 'utf8').includes('\n')) {
      if (Date.now() > deadline || chrome.exitCode !== null) throw new Error(`chromium did not start (exit ${chrome.exitCode})`);
      await sleep(100);
    }
    const port = Number(readFileSync(portFile, 'utf8').split('\n')[0]);
    const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Array<{ type: string; webSocketDebuggerUrl: string }>;
    const page = targets.find((t) => t.type === 'page');
    if (!page) throw new Error('chromium has no page');
    const socket = new WebSocket(page.webSocketDebuggerUrl);
    ws = socket;
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    const consoleErrors: string[] = [];
    const pending = new Map<number, (r: any) => void>();
    let nextId = 0;
    socket.on('message', (m: Buffer) => {
      const d = JSON.parse(String(m));
      if (d.id !== undefined) pending.get(d.id)?.(d);
      else if (d.method === 'Runtime.exceptionThrown') consoleErrors.push(JSON.stringify(d.params.exceptionDetails).slice(0, 500));
      else if (d.method === 'Runtime.consoleAPICalled' && d.params.type === 'error') consoleErrors.push(d.params.args.map((a: any) => a.value ?? a.description).join(' '));
    });
    const send = (method: string, params: Record<string, unknown> = {}) => new Promise<any>((resolve) => {
      const id = ++nextId;
      pending.set(id, resolve);
      socket.send(JSON.stringify({ id, method, params }));
    });
    await send('Runtime.enable');
    await send('Page.navigate', { url });
    let value: unknown;
    for (;;) {
      value = (await send('Runtime.evaluate', { expression: opts.until, returnByValue: true })).result?.result?.value;
      if (value) break;
      if (Date.now() > deadline) throw new Error(`the page never satisfied ${opts.until}; console errors: ${consoleErrors.join(' / ')}`);
      await sleep(200);
    }
    if (opts.screenshot) await writeFile(opts.screenshot, Buffer.from((await send('Page.captureScreenshot', { format: 'png' })).result.data, 'base64'));
    return { value, consoleErrors };
  } finally {
    ws?.close();
    if (chrome.pid && chrome.exitCode === null) {
      try {
        process.kill(-chrome.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      await new Promise((r) => (chrome.exitCode !== null ? r(undefined) : chrome.once('exit', r)));
    }
    await rm(profile, { recursive: true, force: true });
  }
}
