import type { Kysely } from 'kysely';
import type { ApiDef } from '../../core/api/define-api.ts';
import type { ApiRegistry } from '../../core/api/api-registry.ts';
import type { Interceptor, Message, Reply } from '../../core/bus/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import { isAdmin, OWNERSHIP_TABLES, tenantPolicyOf } from '../../core/query/access-filter.ts';
import type { InventoryRegistry } from '../../core/query/index.ts';
import { newUuid } from '../../core/util/uuid.ts';
import type { ResourceAccess } from './resource-access.ts';

/** The API message a user sent (not an internal message sharing its name space), or undefined. */
export function apiOf(apis: ApiRegistry, msg: Message): ApiDef | undefined {
  const api = apis.find(msg.type);
  return api && api.service === msg.service && !api.noSession && msg.caller !== undefined ? api : undefined;
}

/**
 * Accounts, users, groups, policies and access keys carry their account in their own rows (their
 * tenant policy names the column): they get no owner row, and an account is its own owner.
 */
const OWN_ACCOUNT_COLUMN = new Set(['identity', 'audit']);

/** `fooUuid: "…"` and `fooUuids: ["…"]` parameters: what an API refers to. */
function referencedUuids(body: Record<string, unknown>, skip: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(body)) {
    if (skip.has(k)) continue;
    if (k.endsWith('Uuid') && typeof v === 'string') out.push(v);
    else if (k.endsWith('Uuids') && Array.isArray(v)) for (const x of v) if (typeof x === 'string') out.push(x);
  }
  return out;
}

/**
 * Ownership on the bus, for every API message, without any service knowing:
 *  - a create gets its uuid chosen here (when the client did not choose one) and its owner row written
 *    before the service runs, so the resource never exists without an owner; a failed create's row is
 *    removed after the reply;
 *  - a normal account's call on a resource that is not its own is answered exactly as a call on a uuid
 *    that does not exist: the uuid is swapped for a fresh one that exists nowhere, the service answers
 *    as it answers for any missing uuid (an error, or success for a delete), and the fresh uuid is
 *    written back as the original in the answer. Nothing in the answer tells the two cases apart.
 */
export function ownershipInterceptor(db: Kysely<any>, apis: ApiRegistry, inventories: InventoryRegistry, access: ResourceAccess): Interceptor {
  const swapped = new WeakMap<Message, Map<string, string>>();
  const createdRef = new WeakMap<Message, string>();
  const listed = new WeakMap<Message, { inventory: string; visible: Set<string> }>();

  const resourceTypeOf = (api: ApiDef): string => {
    if (api.tagResourceType) return api.tagResourceType;
    const inv = 'inventory' in api.result ? inventories.find(api.result.inventory) : undefined;
    return inv?.resourceType ?? api.name.replace(/^Create|^Add/, '') + 'VO';
  };

  const guard = async (msg: Message, api: ApiDef): Promise<void> => {
    const caller = msg.caller!;
    // A read outside the query engine (GetVmAttachableDataVolume): its answer is filtered after the reply.
    if (!isAdmin(caller) && 'inventories' in api.result) listed.set(msg, { inventory: api.result.inventories, visible: await visibleTo(db, caller.accountUuid) });
    let body = msg.body as Record<string, unknown>;
    if (!isAdmin(caller)) {
      const targetParam = api.create ? undefined : api.resourceUuidParam;
      const targets = targetParam && typeof body[targetParam] === 'string' ? [body[targetParam] as string] : [];
      const refs = referencedUuids(body, new Set(['resourceUuid', ...(targetParam ? [targetParam] : [])]));
      const bad = await access.forbidden(caller, targets, refs);
      if (bad.size > 0) {
        const map = new Map([...bad].map((u) => [u, newUuid()]));
        body = swapUuids(body, map);
        if (msg.resourceUuid && map.has(msg.resourceUuid)) msg.resourceUuid = map.get(msg.resourceUuid);
        msg.body = body;
        swapped.set(msg, new Map([...map].map(([a, b]) => [b, a])));
      }
    }
    // A tenant choosing the uuid of something that exists (in any table) would own that thing through
    // its owner row, or through its own row naming its account (a user): refused, as ZStack refuses a
    // duplicate resourceUuid.
    if (api.create && !isAdmin(caller) && typeof body.resourceUuid === 'string' && (await access.uuidInUse(body.resourceUuid))) {
      throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `resourceUuid[${body.resourceUuid}] is already used by another resource`);
    }
    if (api.create && !OWN_ACCOUNT_COLUMN.has(api.service)) {
      let uuid = body.resourceUuid as string | undefined;
      if (uuid === undefined) {
        uuid = newUuid();
        msg.body = { ...body, resourceUuid: uuid };
      }
      // A client-chosen uuid that already has an owner is left alone: the create fails as a duplicate.
      const now = Date.now();
      const r = await db.insertInto(OWNERSHIP_TABLES.owners).values({ resourceUuid: uuid, accountUuid: caller.accountUuid, resourceType: resourceTypeOf(api), createDate: now, lastOpDate: now }).executeTakeFirst().catch(() => undefined);
      if (r) createdRef.set(msg, uuid);
    }
  };

  /**
   * Resources a create made along with its own (a VM's root and data volumes, its NICs) get the same
   * owner, so they stay the tenant's once detached. Until then they are visible through their parent.
   */
  const recordChildren = async (accountUuid: string, value: unknown): Promise<void> => {
    const inv = (value as { inventory?: unknown } | undefined)?.inventory ?? value;
    if (!inv || typeof inv !== 'object') return;
    for (const list of Object.values(inv as Record<string, unknown>)) {
      if (!Array.isArray(list)) continue;
      const uuids = list.map((x) => (x && typeof x === 'object' ? (x as { uuid?: unknown }).uuid : undefined)).filter((u): u is string => typeof u === 'string');
      if (uuids.length === 0) continue;
      const def = await access.inventoryOf(uuids[0]);
      if (!def) continue;
      const now = Date.now();
      for (const uuid of uuids) {
        await db.insertInto(OWNERSHIP_TABLES.owners).values({ resourceUuid: uuid, accountUuid, resourceType: def.resourceType, createDate: now, lastOpDate: now }).execute().catch(() => undefined); // already owned
      }
    }
  };

  return {
    name: 'ownership',
    beforeDeliver(msg) {
      const api = apiOf(apis, msg);
      // Reads are restricted by the query engine; an administrator's non-create calls need nothing. Answering
      // synchronously keeps internal messages off the promise path of the bus.
      if (!api || api.service === 'query' || (!api.create && isAdmin(msg.caller))) return;
      return guard(msg, api);
    },
    afterReply(msg: Message, reply: Reply) {
      const list = listed.get(msg);
      if (list && reply.success) filterInventories(reply.value as { inventories?: Record<string, unknown>[] }, list.visible, viaFieldsOf(list.inventory));
      const back = swapped.get(msg);
      if (back && !reply.success) restoreUuids(reply.error as unknown as Record<string, unknown>, back);
      const ref = createdRef.get(msg);
      if (ref && !reply.success) void db.deleteFrom(OWNERSHIP_TABLES.owners).where('resourceUuid', '=', ref).execute().catch(() => undefined);
      if (ref && reply.success && msg.caller && !isAdmin(msg.caller)) void recordChildren(msg.caller.accountUuid, reply.value).catch(() => undefined);
    },
  };
}

/** Every uuid an account may see: what it owns and what is shared with it or with everyone. */
async function visibleTo(db: Kysely<any>, accountUuid: string): Promise<Set<string>> {
  const owned = await db.selectFrom(OWNERSHIP_TABLES.owners).select('resourceUuid').where('accountUuid', '=', accountUuid).execute();
  const shared = await db.selectFrom(OWNERSHIP_TABLES.shares).select('resourceUuid').where((eb) => eb.or([eb('receiverAccountUuid', '=', accountUuid), eb('toPublic', '=', true)])).execute();
  return new Set([...owned, ...shared].map((r) => r.resourceUuid as string));
}

/** The fields whose value makes a row of this inventory visible: its uuid, or its parents' for `via` policies. */
function viaFieldsOf(inventory: string): readonly string[] {
  const p = tenantPolicyOf(inventory);
  return typeof p === 'object' && 'via' in p ? p.via : ['uuid'];
}

function filterInventories(value: { inventories?: Record<string, unknown>[] } | undefined, visible: Set<string>, fields: readonly string[]): void {
  if (!value || !Array.isArray(value.inventories)) return;
  value.inventories = value.inventories.filter((i) => fields.some((f) => typeof i[f] === 'string' && visible.has(i[f] as string)));
}

function swapUuids(body: Record<string, unknown>, map: Map<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) {
    if (typeof v === 'string' && map.has(v)) out[k] = map.get(v);
    else if (Array.isArray(v)) out[k] = v.map((x) => (typeof x === 'string' && map.has(x) ? map.get(x) : x));
    else out[k] = v;
  }
  return out;
}

/** Writes the original uuids back into an error and its causes (the only place a swapped uuid can show). */
function restoreUuids(o: Record<string, unknown>, map: Map<string, string>): void {
  for (const [k, v] of Object.entries(o)) {
    if (typeof v === 'string') o[k] = replaceAll(v, map);
    else if (v && typeof v === 'object') restoreUuids(v as Record<string, unknown>, map);
  }
}

function replaceAll(s: string, map: Map<string, string>): string {
  let out = s;
  for (const [from, to] of map) out = out.split(from).join(to);
  return out;
}
