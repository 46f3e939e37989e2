import type { ApiDef } from '../core/api/define-api.ts';

/**
 * A small ZStack REST v1 client: builds the request the way ZStack's SDKs do (path variables,
 * `{"<bodyKey>": …}` bodies, query strings for GET and DELETE), polls async jobs, and reports progress.
 */
export interface CallOptions {
  baseUrl: string;
  session?: string;
  pollIntervalMs?: number;
  /** Called after each poll that found the job still running; `jobUuid` names it for GetTaskProgress. */
  onPoll?: (elapsedMs: number, jobUuid: string) => void | Promise<void>;
  timeoutMs?: number;
}

export class ApiCallError extends Error {
  constructor(readonly status: number, readonly body: unknown) {
    super(typeof body === 'object' && body && 'error' in body ? formatError((body as any).error) : `HTTP ${status}: ${typeof body === 'string' ? body : JSON.stringify(body)}`);
  }
}

export async function callApi(api: ApiDef, params: Record<string, unknown>, opts: CallOptions): Promise<Record<string, unknown>> {
  const rest = { ...params };
  let path = api.path.replace(/\{([A-Za-z0-9_]+)\}/g, (_m, name: string) => {
    const v = rest[name];
    if (v === undefined) throw new Error(`${api.name} needs ${name}=…`);
    delete rest[name];
    return encodeURIComponent(String(v));
  });
  const headers: Record<string, string> = { 'X-JSON-Schema': 'true' };
  if (opts.session && !api.noSession) headers.Authorization = `OAuth ${opts.session}`;
  let body: string | undefined;
  if (api.bodyKey === null) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(rest)) {
      if (Array.isArray(v)) {
        if (k === 'fields') qs.append(k, v.join(','));
        else for (const item of v) qs.append(k, String(item));
      } else if (v !== undefined) qs.append(k, String(v));
    }
    const s = qs.toString();
    if (s) path += `?${s}`;
  } else {
    headers['Content-Type'] = 'application/json; charset=utf-8';
    body = JSON.stringify({ [api.bodyKey]: rest });
  }
  const res = await fetch(`${opts.baseUrl}/zstack/v1${path}`, { method: api.method, headers, body });
  const first = await readBody(res);
  if (res.status === 200) return first as Record<string, unknown>;
  if (res.status !== 202) throw new ApiCallError(res.status, first);
  const location = (first as { location?: string }).location;
  if (!location) throw new Error('the server accepted the call but gave no job location');
  return poll(location, opts);
}

async function poll(location: string, opts: CallOptions): Promise<Record<string, unknown>> {
  const started = Date.now();
  const interval = opts.pollIntervalMs ?? 500;
  for (;;) {
    const res = await fetch(location, { headers: opts.session ? { Authorization: `OAuth ${opts.session}` } : {} });
    const body = await readBody(res);
    if (res.status === 200) return body as Record<string, unknown>;
    if (res.status !== 202) throw new ApiCallError(res.status, body);
    await opts.onPoll?.(Date.now() - started, location.split('/').pop() ?? '');
    if (opts.timeoutMs !== undefined && Date.now() - started > opts.timeoutMs) throw new Error(`gave up waiting for ${location} after ${opts.timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

async function readBody(res: Response): Promise<unknown> {
  const text = await res.text();
  try {
    return text === '' ? {} : JSON.parse(text);
  } catch {
    return text;
  }
}

function formatError(e: { code?: string; description?: string; details?: string; cause?: unknown }): string {
  let s = `${e.code ?? 'ERROR'}: ${e.description ?? ''}${e.details ? ` (${e.details})` : ''}`;
  if (e.cause && typeof e.cause === 'object') s += `\n  caused by ${formatError(e.cause as any)}`;
  return s;
}
