import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { StratoError, SysErrors } from '../../core/errors/index.ts';

/** What the simulator learns about an image from its URL. */
export interface ImageFacts {
  size: number;
  actualSize: number;
  md5sum: string;
  format?: string;
}

export const DEFAULT_SIMULATED_IMAGE_SIZE = 1024 ** 3;

/**
 * A `file://` URL is read for real: md5 over the bytes, actual size from the file, and the format
 * and virtual size from a qcow2 header or an ISO 9660 signature. Any other URL is not fetched: its
 * size comes from a `size` query parameter (default 1 GiB) and its md5 is that of the URL text.
 */
export async function inspectImageUrl(url: string, onProgress: (percent: number) => void = () => undefined): Promise<ImageFacts> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `invalid image url [${url}]`);
  }
  if (parsed.protocol === 'file:') return inspectFile(fileURLToPath(parsed), onProgress);
  onProgress(100);
  const raw = parsed.searchParams.get('size');
  const size = raw !== null && /^\d+$/.test(raw) ? Number(raw) : DEFAULT_SIMULATED_IMAGE_SIZE;
  return { size, actualSize: size, md5sum: createHash('md5').update(url).digest('hex') };
}

async function inspectFile(path: string, onProgress: (percent: number) => void): Promise<ImageFacts> {
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    throw new StratoError(SysErrors.OPERATION_ERROR, `cannot download ${path}: ${(e as Error).message}`);
  }
  if (!st.isFile()) throw new StratoError(SysErrors.OPERATION_ERROR, `cannot download ${path}: not a regular file`);
  const md5sum = await new Promise<string>((resolve, reject) => {
    const h = createHash('md5');
    let read = 0;
    onProgress(0);
    createReadStream(path)
      .on('data', (c) => {
        h.update(c);
        read += c.length;
        onProgress(st.size ? (read * 100) / st.size : 100);
      })
      .on('end', () => {
        onProgress(100);
        resolve(h.digest('hex'));
      })
      .on('error', reject);
  });
  const head = await readAt(path, 0, 32);
  if (head.length >= 32 && head.readUInt32BE(0) === 0x514649fb) {
    // qcow2: "QFI\xfb", then version, backing file offset/size, cluster bits, and the virtual size at byte 24.
    return { size: Number(head.readBigUInt64BE(24)), actualSize: st.size, md5sum, format: 'qcow2' };
  }
  const iso = await readAt(path, 32769, 5);
  if (iso.toString('latin1') === 'CD001') return { size: st.size, actualSize: st.size, md5sum, format: 'iso' };
  return { size: st.size, actualSize: st.size, md5sum, format: 'raw' };
}

async function readAt(path: string, position: number, length: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, position);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}
