import type { Kysely } from 'kysely';
import type { TestClient } from './test-node.ts';

/**
 * Small helpers shared by the integration tests: row counts to prove "nothing changed", and the
 * zone/cluster calls most tests start with.
 */
export const COUNTED_TABLES = ['zone', 'cluster', 'system_tag', 'user_tag', 'global_config'] as const;

export async function countRows(db: Kysely<any>, tables: readonly string[] = COUNTED_TABLES): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of tables) {
    const r = await db.selectFrom(t).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    out[t] = Number(r.n);
  }
  return out;
}

/** Every global config value, keyed by `category.name`: an update that failed must leave all of them alone. */
export async function configValues(db: Kysely<any>): Promise<Record<string, string>> {
  const rows = await db.selectFrom('global_config').select(['category', 'name', 'value']).execute();
  return Object.fromEntries(rows.map((r) => [`${r.category}.${r.name}`, String(r.value)]));
}

export async function createZone(c: TestClient, name: string, extra: Record<string, unknown> = {}, top: Record<string, unknown> = {}): Promise<any> {
  const r = await c.call('POST', '/zones', { params: { name, ...extra }, ...top });
  return r.inventory;
}

export async function createCluster(c: TestClient, zoneUuid: string, name: string, extra: Record<string, unknown> = {}, top: Record<string, unknown> = {}): Promise<any> {
  const r = await c.call('POST', '/clusters', { params: { zoneUuid, name, hypervisorType: 'KVM', ...extra }, ...top });
  return r.inventory;
}

/** `?q=a&q=b` as ZStack's SDKs encode it (form encoding, repeated keys). */
export function qs(params: Record<string, string | number | boolean | string[]>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const one of Array.isArray(v) ? v : [v]) u.append(k, String(one));
  return `?${u.toString()}`;
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Logs in as ZStack's SDKs do against any node URL (a child process, a second node). */
export async function loginAt(url: string, account = 'admin', password = 'password'): Promise<TestClient> {
  const { sha512, TestClient: Client } = await import('./test-node.ts');
  const res = await fetch(`${url}/zstack/v1/accounts/login`, { method: 'PUT', headers: { 'Content-Type': 'application/json; charset=utf-8' }, body: JSON.stringify({ logInByAccount: { accountName: account, password: sha512(password) } }) });
  const body = (await res.json()) as { inventory?: { uuid: string } };
  if (res.status !== 200 || !body.inventory) throw new Error(`login failed: ${res.status} ${JSON.stringify(body)}`);
  return new Client(url, body.inventory.uuid);
}
