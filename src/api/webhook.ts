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
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json; charset=utf-8', 'X-Job-UUID': jobUuid, 'X-Job-Success': String(success) },
        body: payload,
        signal: AbortSignal.timeout(opts.timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return true;
      log.warn({ url, jobUuid, status: res.status, attempt }, 'webhook answered with a failure status');
    } catch (e) {
      log.warn({ url, jobUuid, attempt, err: (e as Error).message }, 'webhook delivery failed');
    }
    if (attempt < opts.attempts) await new Promise((r) => setTimeout(r, opts.intervalMs));
  }
  log.error({ url, jobUuid }, 'webhook given up after all attempts');
  return false;
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
