import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile, chmod } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { apiCatalog } from '../api/catalog.ts';
import type { ApiDef } from '../core/api/define-api.ts';
import { parseCliArgs } from './args.ts';
import { ApiCallError, callApi } from './client.ts';
import { renderTable } from './render-table.ts';

/**
 * `strato cli …`: ZStack-cli-like access to every API by name.
 *   strato cli LogInByAccount accountName=admin password=password   (remembers the session)
 *   strato cli CreateZone name=z1
 *   strato cli QueryZone name~=z% --json
 */
export interface CliOptions {
  /** The node to call; without it, the node the remembered session came from, else http://127.0.0.1:8080. */
  url?: string;
  json: boolean;
  stateFile?: string;
  out?: (s: string) => void;
  err?: (s: string) => void;
}

interface CliState {
  url: string;
  session: string;
}

const DEFAULT_URL = 'http://127.0.0.1:8080';

export function defaultStateFile(): string {
  return process.env.STRATO_CLI_STATE ?? join(homedir(), '.strato', 'cli-session.json');
}

export async function runCli(words: string[], opts: CliOptions): Promise<number> {
  const out = opts.out ?? ((s) => process.stdout.write(`${s}\n`));
  const err = opts.err ?? ((s) => process.stderr.write(`${s}\n`));
  const stateFile = opts.stateFile ?? defaultStateFile();
  const [name, ...rest] = words;
  if (!name || name === 'help') {
    out(`usage: strato cli <ApiName> key=value …\nAPIs:\n${apiCatalog.map((a) => `  ${a.name.padEnd(28)} ${a.description}`).join('\n')}`);
    return name ? 0 : 1;
  }
  const remembered = await loadState(stateFile);
  const url = (opts.url ?? remembered?.url ?? DEFAULT_URL).replace(/\/$/, '');
  // A session belongs to the node that issued it: never send it to another one.
  const state = remembered && remembered.url === url ? remembered : undefined;
  if (name === 'LogOut' && rest.length === 0 && state) rest.push(`sessionUuid=${state.session}`);
  const api = findApi(name);
  if (!api) {
    err(`no API named ${name}; \`strato cli help\` lists them`);
    return 2;
  }
  let params: Record<string, unknown>;
  try {
    params = parseCliArgs(api, rest);
  } catch (e) {
    err((e as Error).message);
    return 2;
  }
  // ZStack's clients send the SHA-512 hex of a password, never the password: every parameter declared
  // as SHA-512 hex (logins, CreateAccount, CreateUser, password changes) is hashed here when given plain.
  for (const [key, schema] of Object.entries(api.schema.properties)) {
    const v = params[key];
    if ((schema as { pattern?: string }).pattern === '^[0-9a-fA-F]{128}$' && typeof v === 'string' && !/^[0-9a-f]{128}$/i.test(v)) {
      params[key] = createHash('sha512').update(v).digest('hex');
    }
  }
  if (!api.noSession && !state) {
    err('not logged in: run `strato cli LogInByAccount accountName=admin password=…` first');
    return 2;
  }
  const progress = process.stderr.isTTY && !opts.json;
  try {
    const result = await callApi(api, params, {
      baseUrl: url,
      session: state?.session,
      onPoll: progress
        ? async (ms, jobUuid) => {
            const pct = await latestProgress(url, state?.session, jobUuid);
            process.stderr.write(`\r${spinner(ms)} ${api.name} running… ${(ms / 1000).toFixed(1)} s${pct === undefined ? '' : ` (${pct} %)`}\x1b[K`);
          }
        : undefined,
    });
    if (progress) process.stderr.write('\r\x1b[K');
    if (api.name === 'LogInByAccount' || api.name === 'LogInByUser') {
      const session = (result.inventory as { uuid?: string } | undefined)?.uuid;
      if (session) await saveState(stateFile, { url, session });
    }
    // Logging out some other session leaves the remembered one alone.
    if (api.name === 'LogOut' && params.sessionUuid === remembered?.session) await saveState(stateFile, undefined);
    out(opts.json ? JSON.stringify(result, null, 2) : format(result));
    return 0;
  } catch (e) {
    if (progress) process.stderr.write('\r\x1b[K');
    err(e instanceof ApiCallError ? e.message : `failed: ${(e as Error).message}`);
    return 1;
  }
}

function findApi(name: string): ApiDef | undefined {
  return apiCatalog.find((a) => a.name === name) ?? apiCatalog.find((a) => a.name.toLowerCase() === name.toLowerCase());
}

function format(result: Record<string, unknown>): string {
  if (Array.isArray(result.inventories)) return `${renderTable(result.inventories as Record<string, unknown>[])}${result.total !== undefined ? `\ntotal: ${result.total}` : ''}`;
  if (result.inventory && typeof result.inventory === 'object') return renderTable([result.inventory as Record<string, unknown>]);
  if (result.total !== undefined && Object.keys(result).length <= 2) return `total: ${result.total}`;
  return Object.keys(result).length === 0 ? 'done' : JSON.stringify(result, null, 2);
}

function spinner(ms: number): string {
  return '|/-\\'[Math.floor(ms / 250) % 4];
}

async function loadState(file: string): Promise<CliState | undefined> {
  try {
    const s = JSON.parse(await readFile(file, 'utf8')) as Partial<CliState>;
    return s.session ? (s as CliState) : undefined;
  } catch {
    return undefined;
  }
}

async function saveState(file: string, state: CliState | undefined): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, state ? JSON.stringify(state) : '{}');
  await chmod(file, 0o600);
}

/** The newest progress a long job reported (an image download…), if any; never fails the call. */
async function latestProgress(url: string, session: string | undefined, jobUuid: string): Promise<string | undefined> {
  const api = findApi('GetTaskProgress');
  if (!api || !session) return undefined;
  try {
    const r = await callApi(api, { apiId: jobUuid }, { baseUrl: url, session });
    return (r.inventories as Array<{ content?: string }> | undefined)?.[0]?.content;
  } catch {
    return undefined;
  }
}
