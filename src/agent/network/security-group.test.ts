import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureBridgeNetfilter } from './security-group.ts';

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
