import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureBridgeNetfilter, readAndCommit } from './security-group.ts';

describe('bridge netfilter for security groups', () => {
  const dir = mkdtempSync(join(tmpdir(), 'strato-test-brnf-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('says clearly that a kernel without br_netfilter cannot do security groups', () => {
    expect(() => ensureBridgeNetfilter([join(dir, 'missing')])).toThrow(/security groups are unsupported on this host: bridge netfilter is missing .*br_netfilter/);
  });

  it('turns the hooks on when they are off and leaves them on', () => {
    const [v4, v6] = [join(dir, 'bridge-nf-call-iptables'), join(dir, 'bridge-nf-call-ip6tables')];
    writeFileSync(v4, '0\n');
    writeFileSync(v6, '1\n');
    ensureBridgeNetfilter([v4, v6]);
    expect(readFileSync(v4, 'utf8')).toBe('1');
    expect(readFileSync(v6, 'utf8')).toBe('1\n');
  });
});

describe('a ruleset change that fails', () => {
  it('is computed again from a fresh read once, and its second failure is the answer', async () => {
    let reads = 0;
    const read = async () => ++reads;
    const seen: number[] = [];
    const failsOnce = async (state: number) => {
      seen.push(state);
      if (seen.length === 1) throw new Error('iptables-restore: line 3 failed');
      return 'done';
    };
    await expect(readAndCommit(failsOnce, read)).resolves.toBe('done');
    expect(seen).toEqual([1, 2]); // the second try saw the second read, not the first state again
    let tries = 0;
    await expect(readAndCommit(async () => {
      tries++;
      throw new Error(`restore failed (try ${tries})`);
    }, read)).rejects.toThrow('restore failed (try 2)');
  });
});
