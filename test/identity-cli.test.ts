import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha512, startTestNode, type TestNode } from './support/test-node.ts';

const BIN = resolve(import.meta.dirname, '../bin/strato.js');

/** `strato cli` hashes every password parameter the way ZStack's clients do, so accounts made from the CLI can log in. */
describe('identity from the CLI', () => {
  let t: TestNode;
  let dir: string;

  const cli = (...words: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((done) => {
      const env: NodeJS.ProcessEnv = { ...process.env, STRATO_CLI_STATE: join(dir, 'state.json') };
      execFile(process.execPath, [BIN, 'cli', '--url', t.url, ...words], { env, timeout: 60_000 }, (err, stdout, stderr) => {
        done({ code: err ? Number((err as { code?: unknown }).code ?? -1) : 0, stdout, stderr });
      });
    });
  const restLogin = async (body: Record<string, unknown>, byUser = false) =>
    (await fetch(`${t.url}/zstack/v1/accounts/${byUser ? 'users/' : ''}login`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(byUser ? { logInByUser: body } : { logInByAccount: body }) })).status;

  beforeAll(async () => {
    t = await startTestNode('sqlite');
    dir = await mkdtemp(join(tmpdir(), 'strato-test-identity-cli-'));
  });
  afterAll(async () => {
    await t?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('creates an account and a user with plain passwords that log in by their SHA-512', { timeout: 120_000 }, async () => {
    expect((await cli('LogInByAccount', 'accountName=admin', 'password=password')).code).toBe(0);
    const acc = await cli('CreateAccount', 'name=cli-tenant', 'password=plain-secret');
    expect(acc.code, acc.stderr).toBe(0);
    expect(acc.stdout).not.toContain('plain-secret');
    expect(await restLogin({ accountName: 'cli-tenant', password: sha512('plain-secret') })).toBe(200);
    expect((await cli('LogInByAccount', 'accountName=cli-tenant', 'password=plain-secret')).code).toBe(0);
    expect((await cli('CreateUser', 'name=cli-user', 'password=user-secret')).code).toBe(0);
    expect(await restLogin({ accountName: 'cli-tenant', userName: 'cli-user', password: sha512('user-secret') }, true)).toBe(200);
    expect((await cli('LogInByUser', 'accountName=cli-tenant', 'userName=cli-user', 'password=user-secret')).code).toBe(0);
    // The CLI now calls as the user: it may read, and may not create without a policy.
    expect((await cli('QueryUser')).code).toBe(0);
    const refused = await cli('CreateUserGroup', 'name=not-allowed');
    expect(refused.code).not.toBe(0);
    expect(refused.stdout + refused.stderr).toContain('ID.1003');
  });
});
