import { request } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { newUuid } from '../../src/core/util/uuid.ts';

/**
 * Requests byte-for-byte as ZStack's Java SDK (OkHttp + Gson) sends them, per
 * reference/zstack-java-sdk-wire.md §1: node:http rather than fetch, so no `Accept` header and the
 * request target goes out exactly as written (fetch would normalise the query string).
 */
export interface WireResponse {
  status: number;
  text: string;
  /** Parsed JSON, or undefined when the body is not JSON (plain-text transport errors). */
  json: any;
  headers: Record<string, string | string[] | undefined>;
}

export interface SdkRequestOptions {
  session?: string;
  /** A Gson-encoded body (see `gson`); PUT and POST only. */
  body?: string;
  /** The call's X-Job-UUID; a fresh one by default, `null` to send none (polls). */
  jobUuid?: string | null;
  headers?: Record<string, string>;
}

export function sdkRequest(baseUrl: string, method: string, target: string, opts: SdkRequestOptions = {}): Promise<WireResponse> {
  const url = new URL(baseUrl);
  const headers: Record<string, string> = { 'User-Agent': 'okhttp/3.13.1', 'Accept-Encoding': 'gzip', Connection: 'Keep-Alive', 'X-JSON-Schema': 'true' };
  const jobUuid = opts.jobUuid === undefined ? newUuid() : opts.jobUuid;
  if (jobUuid !== null) headers['X-Job-UUID'] = jobUuid;
  if (opts.session !== undefined) headers.Authorization = `OAuth ${opts.session}`;
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json; charset=utf-8';
    headers['Content-Length'] = String(Buffer.byteLength(opts.body));
  }
  Object.assign(headers, opts.headers);
  for (const [k, v] of Object.entries(headers)) if (v === undefined) delete headers[k];
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path: target, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        const text = (res.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
        let json: unknown;
        try {
          json = text === '' ? undefined : JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, text, json, headers: res.headers });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

/** JSON as Gson writes it: HTML-sensitive characters escaped as `\u003c`…, non-ASCII left raw. */
export function gson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&'=]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** OkHttp's query-component encoding: only letters, digits and `-._*` stay literal; UTF-8 percent escapes. */
export function okhttpQuery(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-._*]/.test(c) && byte < 0x80 ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Polls a job location the way the SDK does (no X-Job-UUID) until it leaves 202; records every status seen. */
export async function sdkPoll(location: string, authorization: string, timeoutMs = 20_000): Promise<WireResponse & { seen: number[] }> {
  const u = new URL(location);
  const seen: number[] = [];
  const started = Date.now();
  for (;;) {
    const r = await sdkRequest(u.origin, 'GET', u.pathname + u.search, { jobUuid: null, headers: { Authorization: authorization } });
    seen.push(r.status);
    if (r.status !== 202) return { ...r, seen };
    if (Date.now() - started > timeoutMs) throw new Error(`job ${location} still running after ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 10));
  }
}
