import { afterEach, describe, expect, it, vi } from 'vitest';
import { canRunAgentTests } from './harness.ts';

describe('canRunAgentTests', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  it('skips (false) where agent tests cannot run, outside CI', () => {
    vi.stubEnv('CI', '');
    vi.spyOn(process as { getuid(): number }, 'getuid').mockReturnValue(1000);
    vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    expect(canRunAgentTests()).toBe(false);
    expect(canRunAgentTests('no-such-command-strato')).toBe(false);
  });

  it('fails under CI instead of passing skipped', () => {
    vi.stubEnv('CI', 'true');
    vi.spyOn(process as { getuid(): number }, 'getuid').mockReturnValue(1000);
    expect(() => canRunAgentTests()).toThrow(/need root.*CI is set/);
    vi.spyOn(process as { getuid(): number }, 'getuid').mockReturnValue(0);
    expect(() => canRunAgentTests('no-such-command-strato')).toThrow(/no-such-command-strato/);
  });
});
