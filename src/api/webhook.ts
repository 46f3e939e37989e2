import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Logger } from 'pino';

/**
 * Posts an async job's result to the caller's `X-Web-Hook` URL with `X-Job-UUID` and
 * `X-Job-Success`, retrying non-2xx answers and network errors (ZStack: 15 tries, 2 s apart).
 */
export interface WebhookOptions {
  attempts: number;
  intervalMs: number;
  timeoutMs: number;
}

export const defaultWebhookOptions: WebhookOptions = { attempts: 15, intervalMs: 2000, timeoutMs: 10_000 };

export async function deliverWebhook(url: string, jobUuid: string, success: boolean, body: unknown, log: Logger, opts: WebhookOptions = defaultWebhookOptions): Promise<boolean> {
  const payload = JSON.stringify(body);
  for (let attempt = 1; attempt <= opts.attempts; attempt++) {
    try {
      const status = await post(url, payload, { 'Content-Type': 'application/json; charset=utf-8', 'X-Job-UUID': jobUuid, 'X-Job-Success': String(success) }, opts.timeoutMs);
      if (status >= 200 && status < 300) return true;
      log.warn({ url, jobUuid, status, attempt }, 'webhook answered with a failure status');
    } catch (e) {
      log.warn({ url, jobUuid, attempt, err: (e as Error).message }, 'webhook delivery failed');
    }
    if (attempt < opts.attempts) await new Promise((r) => setTimeout(r, opts.intervalMs));
  }
  log.error({ url, jobUuid }, 'webhook given up after all attempts');
  return false;
}

// node:http rather than fetch: a job result is one small POST, and under load fetch's streams and
// abort signals cost more CPU than the rest of the delivery (bench:vm, one webhook per create).
const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };

/** POSTs `body` and resolves with the answer's status once the answer has been read to its end. */
function post(url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<number> {
  const u = new URL(url);
  const https = u.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const req = (https ? httpsRequest : httpRequest)(u, { method: 'POST', agent: https ? agents.https : agents.http, headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)) }, timeout: timeoutMs }, (res) => {
      res.on('error', reject);
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.resume();
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Only http(s) URLs are accepted as webhooks. */
export function isValidWebhookUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}
