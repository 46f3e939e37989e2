import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fetchToFile, redactUrl } from './fetch-file.ts';

describe('redactUrl', () => {
  it('drops user:password@ from a URL', () => {
    expect(redactUrl('http://bob:s3cret@example.com/a.qcow2')).toBe('http://example.com/a.qcow2');
    expect(redactUrl('https://token@example.com:8443/x?y=1')).toBe('https://example.com:8443/x?y=1');
  });
  it('leaves other URLs and paths alone', () => {
    expect(redactUrl('http://example.com/a@b')).toBe('http://example.com/a@b');
    expect(redactUrl('/var/images/a.qcow2')).toBe('/var/images/a.qcow2');
  });
  it('keeps credentials out of a fetch error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strato-test-fetch-'));
    try {
      const err = await fetchToFile('ftp://bob:s3cret@example.com/a', join(dir, 'a')).catch((e: Error) => e);
      expect(String((err as Error).message)).not.toContain('s3cret');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
