import { createReadStream, existsSync, mkdirSync, renameSync, rmdirSync, rmSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { IMAGE_STORE_FILE_PATH, IMAGE_STORE_PROGRESS_PATH, ImageStoreAgentPaths } from '../../contracts/image-store-agent.ts';
import type { CommandRegistry } from '../command-registry.ts';
import type { KeyedQueue } from '../keyed-queue.ts';
import { fetchToFile, progressReporter, redactUrl } from '../storage/fetch-file.ts';
import { actualSizeOf, diskCapacity, imageInfo } from '../storage/qemu-img.ts';

const dirOf = (url: unknown): string => {
  if (typeof url !== 'string' || !url.startsWith('/')) throw new Error(`url must be the storage's absolute directory (got ${String(url)})`);
  return resolve(url);
};

/**
 * The image store on a backup-storage host: images downloaded from a URL into its directory, checked
 * against a checksum when given, described by `qemu-img info`, and served to hosts over HTTP (with the
 * token). The directories it serves from are the ones it was connected to or downloaded into.
 */
export function defineImageStoreCommands(commands: CommandRegistry, files: KeyedQueue, roots: Set<string>): void {
  commands.define(ImageStoreAgentPaths.connect, (cmd: { url?: string }) => {
    const dir = dirOf(cmd.url);
    mkdirSync(dir, { recursive: true });
    roots.add(dir);
    return diskCapacity(dir);
  });
  commands.define(ImageStoreAgentPaths.capacity, (cmd: { url?: string }) => diskCapacity(dirOf(cmd.url)));

  commands.define(ImageStoreAgentPaths.download, (cmd: { url?: string; imageUuid?: string; sourceUrl?: string; checksum?: string }, ctx) => {
    const dir = dirOf(cmd.url);
    if (!cmd.imageUuid || !/^[0-9a-zA-Z-]+$/.test(cmd.imageUuid)) throw new Error('imageUuid is missing or malformed');
    if (!cmd.sourceUrl) throw new Error('sourceUrl is missing');
    const folder = join(dir, 'images', cmd.imageUuid);
    return files.run(folder, async () => {
      roots.add(dir);
      const tmp = join(folder, `${cmd.imageUuid}.download`);
      try {
        const got = await fetchToFile(cmd.sourceUrl!, tmp, {}, progressReporter(ctx, IMAGE_STORE_PROGRESS_PATH, { imageUuid: cmd.imageUuid }));
        const expected = cmd.checksum?.toLowerCase();
        if (expected && expected !== got.md5sum && expected !== got.sha256sum) throw new Error(`checksum mismatch for ${redactUrl(cmd.sourceUrl!)}: expected ${expected}, got md5 ${got.md5sum} / sha256 ${got.sha256sum}`);
        const info = await imageInfo(tmp);
        if (info.backingFile) throw new Error(`${redactUrl(cmd.sourceUrl!)} is a qcow2 with a backing file (${info.backingFile}); only standalone images can be added`);
        const installPath = join(folder, `${cmd.imageUuid}.${info.format === 'raw' ? 'raw' : info.format}`);
        rmSync(installPath, { force: true });
        renameSync(tmp, installPath);
        return { installPath, size: info.virtualSize, actualSize: actualSizeOf(installPath), format: info.format, md5sum: got.md5sum, sha256sum: got.sha256sum };
      } catch (e) {
        rmSync(tmp, { force: true });
        try {
          rmdirSync(folder);
        } catch {
          /* keep a folder that holds something */
        }
        throw e;
      }
    });
  });

  commands.define(ImageStoreAgentPaths.delete, (cmd: { installPath?: string }) => {
    if (typeof cmd.installPath !== 'string' || !cmd.installPath.startsWith('/')) throw new Error('installPath must be an absolute path');
    // Only an image's file in one of the store's images directories (images/<uuid>/<file>): never anything else on the host.
    const path = resolve(cmd.installPath);
    if (![...roots].some((r) => dirname(path).startsWith(`${r}/images/`))) throw new Error(`${path} is not an image in this image store`);
    return files.run(dirname(path), () => {
      rmSync(path, { force: true });
      try {
        rmdirSync(dirname(path));
      } catch {
        /* not empty */
      }
      return Promise.resolve({});
    });
  });
}

/** `GET /imagestore/file?path=…` with the token: an image's bytes, only from the store's directories. */
export function imageFileRoute(roots: Set<string>) {
  return {
    prefix: IMAGE_STORE_FILE_PATH,
    async handle(req: IncomingMessage, res: ServerResponse, authorized: boolean): Promise<void> {
      if (!authorized) {
        res.writeHead(401, { 'content-type': 'text/plain' }).end('missing or wrong agent token');
        return;
      }
      const path = resolve(new URL(req.url ?? '/', 'http://agent').searchParams.get('path') ?? '/');
      const allowed = [...roots].some((r) => path.startsWith(`${r}/images/`));
      if (!allowed || !existsSync(path) || !statSync(path).isFile()) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end(`no image ${path} in this image store`);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(statSync(path).size) });
      await pipeline(createReadStream(path), res);
    },
  };
}
