import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newUuid } from '../../src/core/util/uuid.ts';
import { canRunAgentTests, PretendAgentHost, waitFor } from './harness.ts';
import { tinyGuest } from './tiny-guest.ts';

const canRun = canRunAgentTests('qemu-img');

/**
 * The agent as an image-store backup storage: downloads over http:// and file:// with checksums, serves
 * images to hosts with the token, and a host's local storage pulls an image into its cache from it.
 */
describe.skipIf(!canRun)('strato agent: image store', () => {
  const host = new PretendAgentHost();
  let image: string;
  let md5: string;
  let web: Server;
  let webUrl: string;
  const call = <R = Record<string, unknown>>(path: string, body: unknown) => host.client.call<R & { success: boolean }>(host.endpoint, path, body);

  beforeAll(async () => {
    image = join(tinyGuest(), 'tiny-guest.qcow2');
    md5 = createHash('md5').update(readFileSync(image)).digest('hex');
    await host.setUp();
    await host.startAgent();
    // An HTTP server in the root namespace, as an image's origin on the network.
    web = createServer((req, res) => {
      if (req.url !== '/tiny.qcow2') return void res.writeHead(404).end();
      res.writeHead(200, { 'content-length': String(statSync(image).size) });
      createReadStream(image).pipe(res);
    });
    await new Promise<void>((r) => web.listen(0, host.nodeIp, r));
    webUrl = `http://${host.nodeIp}:${(web.address() as AddressInfo).port}`;
  }, 240_000);

  afterAll(async () => {
    await new Promise<void>((r) => web.close(() => r()));
    await host.tearDown();
  }, 60_000);

  it('downloads an image over HTTP, checks its md5, and describes it with qemu-img', async () => {
    const store = join(host.dataDir, 'bs');
    const cap = await call<{ totalCapacity: number; availableCapacity: number }>('/imagestore/connect', { url: store });
    expect(cap.availableCapacity).toBeGreaterThan(0);
    const imageUuid = newUuid();
    const r = await call<{ installPath: string; size: number; actualSize: number; format: string; md5sum: string }>('/imagestore/download', { url: store, imageUuid, sourceUrl: `${webUrl}/tiny.qcow2`, checksum: md5 });
    expect(r).toMatchObject({ installPath: `${store}/images/${imageUuid}/${imageUuid}.qcow2`, format: 'qcow2', md5sum: md5 });
    expect(r.size).toBeGreaterThan(10 * 1024 * 1024);
    expect(readFileSync(r.installPath).equals(readFileSync(image))).toBe(true);
    // progress went to the node that asked, ending at 100 %
    const progress = await waitFor('the 100 % progress report', () => host.reports.find((p) => p.commandPath === '/imagestore/download/progress' && p.body.percent === 100), 5000);
    expect(progress.body).toMatchObject({ imageUuid, downloaded: statSync(image).size, total: statSync(image).size });
    expect(progress.body.taskUuid).toMatch(/^[0-9a-f]{32}$/);
  });

  it('fails a wrong checksum, a missing file and a bad URL, leaving nothing behind', async () => {
    const store = join(host.dataDir, 'bs');
    const imageUuid = newUuid();
    await expect(call('/imagestore/download', { url: store, imageUuid, sourceUrl: `file://${image}`, checksum: '0'.repeat(32) })).rejects.toThrow(/checksum mismatch/);
    await expect(call('/imagestore/download', { url: store, imageUuid, sourceUrl: `${webUrl}/missing.qcow2` })).rejects.toThrow(/HTTP 404/);
    await expect(call('/imagestore/download', { url: store, imageUuid, sourceUrl: 'ftp://x/y' })).rejects.toThrow(/unsupported URL/);
    expect(existsSync(join(store, 'images', imageUuid))).toBe(false);
  });

  it('deletes only files inside the store\'s images directory', async () => {
    const store = join(host.dataDir, 'bs');
    await call('/imagestore/connect', { url: store });
    const outside = join(host.dataDir, 'not-an-image', 'keep.txt');
    mkdirSync(join(outside, '..'), { recursive: true });
    writeFileSync(outside, 'keep');
    for (const installPath of [outside, `${store}/images/../../not-an-image/keep.txt`, `${store}/images`, store, '/etc/hostname']) {
      await expect(call('/imagestore/delete', { installPath })).rejects.toThrow(/not an image in this image store/);
    }
    expect(readFileSync(outside, 'utf8')).toBe('keep');
    expect(existsSync(join(store, 'images'))).toBe(true);
  });

  it('serves an image to hosts only with the token, and a host pulls it into its image cache', async () => {
    const store = join(host.dataDir, 'bs');
    const imageUuid = newUuid();
    const { installPath } = await call<{ installPath: string }>('/imagestore/download', { url: store, imageUuid, sourceUrl: `file://${image}` });
    const fileUrl = `${host.endpoint.url}/imagestore/file?path=${encodeURIComponent(installPath)}`;
    expect((await fetch(fileUrl)).status).toBe(401);
    expect((await fetch(`${host.endpoint.url}/imagestore/file?path=${encodeURIComponent('/etc/passwd')}`, { headers: { 'x-strato-agent-token': host.token } })).status).toBe(404);
    const cache = join(host.dataDir, 'ps', 'imagecache', 'template', imageUuid, `${imageUuid}.qcow2`);
    const r = await call<{ size: number; format: string }>('/localstorage/imagestore/download', { backupStorageInstallPath: installPath, primaryStorageInstallPath: cache, backupStorageUrl: host.endpoint.url, backupStorageToken: host.token });
    expect(r.format).toBe('qcow2');
    await waitFor('the cache download at 100 %', () => host.reports.find((p) => p.commandPath === '/localstorage/imagestore/download/progress' && p.body.primaryStorageInstallPath === cache && p.body.percent === 100), 5000);
    expect(readFileSync(cache).equals(readFileSync(image))).toBe(true);
    await expect(call('/localstorage/imagestore/download', { backupStorageInstallPath: installPath, primaryStorageInstallPath: `${cache}.2`, backupStorageUrl: host.endpoint.url, backupStorageToken: 'wrong' })).rejects.toThrow(/HTTP 401/);
    expect(readdirSync(join(cache, '..'))).toEqual([`${imageUuid}.qcow2`]);
    await call('/imagestore/delete', { installPath });
    expect(existsSync(join(store, 'images', imageUuid))).toBe(false);
  });
});
