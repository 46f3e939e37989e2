import { describe, expect, it } from 'vitest';
import { runWithContext } from '../../core/bus/context.ts';
import { StratoError } from '../../core/errors/index.ts';
import { imageStoreBackend, type ImageStoreDeps } from './backend.ts';

const backend = imageStoreBackend({ db: {}, log: {}, agents: {}, progress: {} } as unknown as ImageStoreDeps);
const bs = { uuid: 'bs1', url: '/data' } as never;
const tenant = { accountUuid: 'a', userUuid: 'a', accountType: 'Normal' as const };

describe('image store downloadImage', () => {
  for (const url of ['file:///etc/shadow', '/etc/shadow', 'FILE:///etc/shadow']) {
    it(`refuses ${url} from a tenant`, async () => {
      const err = await runWithContext({ deadline: Date.now() + 10_000, caller: tenant }, () => backend.downloadImage(bs, { imageUuid: 'i1', url } as never)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StratoError);
      expect((err as StratoError).message).toMatch(/administrators/);
    });
  }
  it('refuses a file URL with no caller at all', async () => {
    await expect(backend.downloadImage(bs, { imageUuid: 'i1', url: 'file:///etc/shadow' } as never)).rejects.toBeInstanceOf(StratoError);
  });
});
