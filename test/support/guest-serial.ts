import { connect } from 'node:net';

/** Types a line on a VM's serial console socket (the tiny guest keeps a root shell there). */
export function typeOnSerial(socketPath: string, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect(socketPath, () => {
      s.write(`\n${line}\n`, () => setTimeout(() => {
        s.destroy();
        resolve();
      }, 500));
    });
    s.once('error', reject);
  });
}

/** Polls `fn` every 250 ms until it holds; throws after `timeoutMs`. */
export async function waitUntil(fn: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const started = Date.now();
  while (!(await fn())) {
    if (Date.now() - started > timeoutMs) throw new Error(`condition not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
