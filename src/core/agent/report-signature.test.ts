import { describe, expect, it } from 'vitest';
import { REPORT_DATE_HEADER, REPORT_MAX_SKEW_MS, REPORT_SIGNATURE_HEADER, signReport, verifyReport } from './report-signature.ts';

const uuid = 'a'.repeat(32);
const tokens: Record<string, string> = { [uuid]: 'token-a' };
const tokenOf = async (u: string) => tokens[u];
const body = JSON.stringify({ hostUuid: uuid, vmUuid: 'b'.repeat(32), vmState: 'Stopped' });
const signed = (over: Partial<Parameters<typeof signReport>[0]> = {}) => signReport({ token: 'token-a', agentUuid: uuid, commandPath: '/kvm/reportvmstate', body, ...over });
const verify = (headers: Record<string, string>, over: { body?: string; commandPath?: string; now?: number } = {}) =>
  verifyReport({ headers, commandPath: over.commandPath ?? '/kvm/reportvmstate', body: over.body ?? body, tokenOf, now: over.now });

describe('report signatures', () => {
  it('accept a report signed with the token of the agent it names', async () => {
    expect(await verify(signed())).toEqual({ ok: true, agentUuid: uuid });
  });

  it('refuse a report without signature, with another token, for an unknown agent, or altered in path or body', async () => {
    expect((await verify({})).ok).toBe(false);
    expect(await verify(signed({ token: 'guessed' }))).toMatchObject({ ok: false, reason: expect.stringMatching(/bad signature/) });
    expect(await verify(signed({ agentUuid: 'c'.repeat(32), token: 'whatever' }))).toMatchObject({ ok: false, reason: expect.stringMatching(/no agent known/) });
    expect((await verify(signed(), { body: body.replace('Stopped', 'Running') })).ok).toBe(false);
    expect((await verify(signed(), { commandPath: '/kvm/reconnectme' })).ok).toBe(false);
    expect((await verify({ ...signed(), [REPORT_SIGNATURE_HEADER]: 'not-hex' })).ok).toBe(false);
  });

  it('refuse a report dated too far from the node clock (a replay of an old capture)', async () => {
    const now = Date.now();
    expect((await verify(signed({ now: now - REPORT_MAX_SKEW_MS - 1000 }), { now })).ok).toBe(false);
    expect((await verify({ ...signed(), [REPORT_DATE_HEADER]: 'yesterday' })).ok).toBe(false);
    expect((await verify(signed({ now: now - 1000 }), { now })).ok).toBe(true);
  });
});
