import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import type { CommandContext } from '../command-registry.ts';

/** `source` with any `user:password@` removed, for error messages and logs. */
export function redactUrl(source: string): string {
  return source.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/?#@]*@/, '$1');
}

export interface FetchedFile {
  bytes: number;
  md5sum: string;
  sha256sum: string;
}

/**
 * Copies `source` (http://, https://, file:///abs or an absolute path) to `dest`, through a temporary
 * file renamed at the end (a failed or interrupted copy leaves nothing at `dest`), hashing as it goes.
 * `headers` go with an HTTP request (the agent token when fetching from another agent).
 */
export async function fetchToFile(source: string, dest: string, headers: Record<string, string> = {}, onProgress?: (bytes: number, total: number | undefined) => void): Promise<FetchedFile> {
  mkdirSync(dirname(dest), { recursive: true });
  const tmp = `${dest}.part-${process.pid}-${Date.now()}`;
  const md5 = createHash('md5');
  const sha256 = createHash('sha256');
  let bytes = 0;
  let total: number | undefined;
  const hasher = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      md5.update(chunk);
      sha256.update(chunk);
      bytes += chunk.length;
      onProgress?.(bytes, total);
      cb(null, chunk);
    },
  });
  try {
    let input: Readable;
    if (/^https?:\/\//.test(source)) {
      const res = await fetch(source, { headers, signal: AbortSignal.timeout(3_600_000) });
      if (!res.ok || !res.body) throw new Error(`GET ${redactUrl(source)} answered HTTP ${res.status}`);
      total = Number(res.headers.get('content-length')) || undefined;
      input = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream);
    } else if (source.startsWith('file://') || source.startsWith('/')) {
      const path = source.startsWith('/') ? source : fileURLToPath(source);
      total = statSync(path).size;
      input = createReadStream(path);
    }
    else throw new Error(`unsupported URL ${redactUrl(source)}: use http://, https:// or file:///`);
    await pipeline(input, hasher, createWriteStream(tmp));
    renameSync(tmp, dest);
    return { bytes, md5sum: md5.digest('hex'), sha256sum: sha256.digest('hex') };
  } catch (e) {
    rmSync(tmp, { force: true });
    const safe = redactUrl(source);
    if (e instanceof Error && safe !== source) e.message = e.message.split(source).join(safe);
    throw e;
  }
}

/**
 * A fetch's progress, as the agent's other reports: `POST <node>/zstack/asyncrest/sendcommand` with
 * header `commandpath` and `{taskUuid, …about, percent, downloaded, total}`, to the node whose
 * `callbackurl` sent the command, at most once a second and once per whole percent (100 % always).
 * Signed like every report (`ctx.signReport`). Best-effort: a node without a handler for the path ignores it.
 */
export function progressReporter(ctx: CommandContext, commandPath: string, about: Record<string, unknown>): (bytes: number, total: number | undefined) => void {
  const url = ctx.callbackUrl?.replace(/callback$/, 'sendcommand');
  let lastPercent = -1;
  let lastAt = 0;
  return (bytes, total) => {
    if (!url || !total) return;
    const percent = Math.floor((bytes / total) * 100);
    if (percent === lastPercent || (Date.now() - lastAt < 1000 && percent < 100)) return;
    lastPercent = percent;
    lastAt = Date.now();
    const body = JSON.stringify({ taskUuid: ctx.taskUuid, ...about, percent, downloaded: bytes, total });
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8', commandpath: commandPath, ...ctx.signReport?.(commandPath, body) }, body, signal: AbortSignal.timeout(5000) })
      .then((r) => r.body?.cancel())
      .catch(() => undefined);
  };
}
