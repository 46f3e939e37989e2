import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { newUuid } from '../src/core/util/uuid.ts';
import { startTestNode, type TestNode } from './support/test-node.ts';

/** The real executable, `node bin/strato.js cli …`, against a real node. */
const BIN = resolve(import.meta.dirname, '../bin/strato.js');

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

describe.each(testDatabaseKinds())('strato cli against a node on %s', (kind) => {
  let t: TestNode;
  let dir: string;
  let stateFile: string;

  /** Async on purpose: the node under test lives in this process and must keep answering. */
  const cliWithArgs = (args: string[]): Promise<CliRun> =>
    new Promise((done) => {
      const env: NodeJS.ProcessEnv = { ...process.env, STRATO_CLI_STATE: stateFile };
      delete env.STRATO_URL;
      execFile(process.execPath, [BIN, 'cli', ...args], { env, timeout: 60_000 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
        done({ code, stdout, stderr });
      });
    });
  const cli = (...words: string[]) => cliWithArgs(['--url', t.url, ...words]);

  beforeAll(async () => {
    t = await startTestNode(kind);
    dir = await mkdtemp(join(tmpdir(), 'strato-cli-'));
    stateFile = join(dir, 'nested', 'cli-session.json');
  });
  afterAll(async () => {
    await t?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('refuses a call before login with exit code 2 and a hint', async () => {
    const r = await cli('QueryZone');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/LogInByAccount/);
  });

  it('logs in with the plain password, remembering a valid session in a 0600 state file', async () => {
    const r = await cli('LogInByAccount', 'accountName=admin', 'password=password');
    expect(r.code, r.stderr).toBe(0);
    const st = await stat(stateFile);
    expect(st.mode & 0o777).toBe(0o600);
    const state = JSON.parse(await readFile(stateFile, 'utf8'));
    expect(state.session).toMatch(/^[0-9a-f]{32}$/);
    const valid = await fetch(`${t.url}/zstack/v1/accounts/sessions/${state.session}/valid`);
    expect(await valid.json()).toEqual({ valid: true });
  });

  it('creates a zone and prints it as a table', async () => {
    const r = await cli('CreateZone', 'name=z1', 'description=made by the cli');
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^uuid\s+name\s+/);
    expect(lines[1]).toMatch(/^-+( +-+)+$/);
    expect(lines[2]).toMatch(/^[0-9a-f]{32}\s+z1\s+made by the cli\s+Enabled/);
  });

  it('finds the zone with QueryZone name~=z%', async () => {
    const r = await cli('QueryZone', 'name~=z%');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^[0-9a-f]{32}\s+z1\s/m);
  });

  it('prints JSON with --json', async () => {
    const r = await cli('QueryZone', 'name=z1', 'replyWithCount=true', '--json');
    expect(r.code, r.stderr).toBe(0);
    const body = JSON.parse(r.stdout);
    expect(body.inventories.map((z: { name: string }) => z.name)).toEqual(['z1']);
    expect(body.total).toBe(1);
  });

  it('exits non-zero with the error code on stderr when the API fails', async () => {
    const missing = await cli('ChangeZoneState', `uuid=${newUuid()}`, 'stateEvent=disable');
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/SYS\.1003/);
    expect(missing.stdout).toBe('');
    const invalid = await cli('CreateZone', 'description=no name');
    expect(invalid.code).not.toBe(0);
    expect(invalid.stderr).toMatch(/SYS\.1007/);
  });

  it('exits 2 for an API that does not exist', async () => {
    const r = await cli('CreateSpaceship', 'name=x');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/CreateSpaceship/);
  });

  it('calls the node it logged in to when --url is left out', async () => {
    const r = await cliWithArgs(['QueryZone', 'name=z1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).inventories).toHaveLength(1);
  });

  it('never sends the remembered session to another node', async () => {
    // Nothing listens there: had the CLI sent the session, it would fail to connect (exit 1), not refuse (exit 2).
    const r = await cliWithArgs(['--url', 'http://127.0.0.1:9', 'QueryZone']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not logged in/);
  });

  it('keeps the remembered session when logging out another one', async () => {
    const other = await t.login();
    const before = await readFile(stateFile, 'utf8');
    const r = await cli('LogOut', `sessionUuid=${other.session}`);
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(stateFile, 'utf8')).toBe(before);
    expect((await cli('QueryZone')).code).toBe(0);
  });

  it('exits 1 with ID.1001 on a wrong password, keeping the remembered session', async () => {
    const before = await readFile(stateFile, 'utf8');
    const r = await cli('LogInByAccount', 'accountName=admin', 'password=wrong');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ID\.1001/);
    expect(await readFile(stateFile, 'utf8')).toBe(before);
  });

  it('logs out with LogOut, ending the remembered session', async () => {
    const { session } = JSON.parse(await readFile(stateFile, 'utf8'));
    const r = await cli('LogOut');
    expect(r.code, r.stderr).toBe(0);
    const valid = await fetch(`${t.url}/zstack/v1/accounts/sessions/${session}/valid`);
    expect(await valid.json()).toEqual({ valid: false });
    expect((await cli('QueryZone')).code).toBe(2);
  });
});
