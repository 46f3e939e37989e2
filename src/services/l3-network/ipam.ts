import { sql, type Kysely } from 'kysely';
import { L3Errors, type AllocateIpRequest, type UsedIpView } from '../../contracts/network.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import { rowToInventory } from '../../core/query/inventory.ts';
import { newUuid } from '../../core/util/uuid.ts';
import { ipToLong, isIpv4, longToIp } from './ipv4.ts';
import { UsedIpInventory } from './schema.ts';
import { isUniqueViolation } from '../../core/db/unique-violation.ts';
import { readCache } from '../../core/db/read-cache.ts';

/**
 * The IPAM: an address is allocated by INSERTing its `used_ip` row; UNIQUE (l3NetworkUuid,
 * ipInLong) refuses the second of two concurrent allocations of one address (on any node), and the
 * loser simply picks again. No lock, no queue: released rows are deleted, so their addresses are free
 * again at once. Candidates come from SQL over the index (the lowest gap), never from a table scan
 * in memory.
 */
export interface IpRangeRow {
  uuid: string;
  l3NetworkUuid: string;
  startIpInLong: number;
  endIpInLong: number;
  netmask: string;
  gateway: string;
}

const MAX_ATTEMPTS = 64;
/**
 * Addresses this process is INSERTing at this moment, per database: concurrent allocations in one
 * process would otherwise all pick the same lowest address and all but one retry. A hint only; the
 * UNIQUE index still decides between nodes.
 */
const pendingByDb = new WeakMap<Kysely<any>, Set<string>>();

/** The IP ranges of an L3 network (one range when named), by start address; read through the read cache (ranges change seldom). */
export async function rangesOf(db: Kysely<any>, l3NetworkUuid: string, ipRangeUuid?: string): Promise<IpRangeRow[]> {
  return [...(await readCache(db).get(`l3.rangesOf:${l3NetworkUuid}:${ipRangeUuid ?? ''}`, ['ip_range'], () => readRanges(db, l3NetworkUuid, ipRangeUuid)))];
}

async function readRanges(db: Kysely<any>, l3NetworkUuid: string, ipRangeUuid?: string): Promise<IpRangeRow[]> {
  let q = db.selectFrom('ip_range').select(['uuid', 'l3NetworkUuid', 'startIpInLong', 'endIpInLong', 'netmask', 'gateway']).where('l3NetworkUuid', '=', l3NetworkUuid);
  if (ipRangeUuid) q = q.where('uuid', '=', ipRangeUuid);
  const rows = await q.orderBy('startIpInLong').execute();
  return rows.map((r) => ({ ...(r as IpRangeRow), startIpInLong: Number(r.startIpInLong), endIpInLong: Number(r.endIpInLong) }));
}

/**
 * Per database and range: every address from the range's start up to this one was in use when this
 * process last looked. Ranges fill from the bottom, and counting that prefix again on every allocation
 * costs O(addresses used); a search starts past it instead. A hint only: this process forgets it when
 * it releases an address, and a search that finds nothing past it looks again from the start, so an
 * address another node released is found before a range is called full.
 */
interface DenseHints {
  byRange: Map<string, number>;
  /** Bumped by every release: a search that began before one may have read rows the release removed. */
  generation: number;
}
const denseHints = new WeakMap<Kysely<any>, DenseHints>();

/** Called when this process releases an address: the dense prefix may have a hole now. */
export function forgetDenseHints(db: Kysely<any>): void {
  const h = denseHints.get(db);
  if (!h) return;
  h.byRange.clear();
  h.generation++;
}

/** The lowest unused address of the range at or above `from`, or undefined. Two indexed queries. */
export async function lowestFreeFrom(db: Kysely<any>, range: IpRangeRow, from: number): Promise<number | undefined> {
  let hints = denseHints.get(db);
  if (!hints) denseHints.set(db, (hints = { byRange: new Map(), generation: 0 }));
  const known = hints.byRange.get(range.uuid);
  if (known !== undefined && from >= range.startIpInLong && from <= known) {
    const past = await lowestFreeAbove(db, range, known + 1, hints);
    if (past !== undefined) return past;
    hints.byRange.delete(range.uuid);
  }
  return lowestFreeAbove(db, range, from, hints);
}

/** `lowestFreeFrom` without the hint; records a dense prefix it proves. */
async function lowestFreeAbove(db: Kysely<any>, range: IpRangeRow, from: number, hints: DenseHints): Promise<number | undefined> {
  if (from > range.endIpInLong) return undefined;
  const prefix = from === range.startIpInLong || hints.byRange.get(range.uuid) === from - 1;
  const generation = hints.generation;
  const taken = await db.selectFrom('used_ip').select('ipInLong').where('l3NetworkUuid', '=', range.l3NetworkUuid).where('ipInLong', '=', from).executeTakeFirst();
  if (!taken) return from;
  // `from` is used: the answer is one past the end of the run of used addresses that starts there.
  // Ranges fill from the bottom, so that run is usually everything above `from`: when the count of
  // used addresses from `from` to the highest one equals their span there is no gap, and the answer
  // is one past the highest. Both are plain index reads; the gap search below checks every row twice.
  const dense = await db.selectFrom('used_ip')
    .select((eb) => [eb.fn.max('ipInLong').as('hi'), eb.fn.countAll().as('n')])
    .where('l3NetworkUuid', '=', range.l3NetworkUuid).where('ipInLong', '>=', from).where('ipInLong', '<=', range.endIpInLong)
    .executeTakeFirst();
  const hi = Number(dense?.hi ?? from);
  if (Number(dense?.n ?? 0) === hi - from + 1) {
    // Recorded only if no release happened while this search read: otherwise the prefix may have a hole.
    if (prefix && hints.generation === generation) hints.byRange.set(range.uuid, hi);
    return hi + 1 <= range.endIpInLong ? hi + 1 : undefined;
  }
  const r = await sql<{ m: number | string | null }>`
    SELECT MIN(u.ipInLong) AS m FROM used_ip u
    WHERE u.l3NetworkUuid = ${range.l3NetworkUuid} AND u.ipInLong >= ${from} AND u.ipInLong <= ${range.endIpInLong}
      AND NOT EXISTS (SELECT 1 FROM used_ip u2 WHERE u2.l3NetworkUuid = u.l3NetworkUuid AND u2.ipInLong = u.ipInLong + 1)`.execute(db);
  const m = r.rows[0]?.m;
  if (m === null || m === undefined) return undefined;
  const next = Number(m) + 1;
  return next <= range.endIpInLong ? next : undefined;
}

async function pick(db: Kysely<any>, ranges: IpRangeRow[], strategy: AllocateIpRequest['allocatorStrategy'], attempt: number): Promise<{ range: IpRangeRow; ip: number } | undefined> {
  const random = strategy === 'RandomIpAllocatorStrategy';
  const order = random ? [...ranges].sort(() => Math.random() - 0.5) : ranges;
  for (const range of order) {
    const size = range.endIpInLong - range.startIpInLong + 1;
    let ip: number | undefined;
    if (random) ip = await lowestFreeFrom(db, range, range.startIpInLong + Math.floor(Math.random() * size));
    else if (attempt > 0) {
      // Lost a race for the lowest free address: spread the retries over the next few so that
      // concurrent allocators stop colliding, while still filling the range from the bottom.
      ip = await lowestFreeFrom(db, range, range.startIpInLong);
      if (ip !== undefined) ip = (await lowestFreeFrom(db, range, ip + Math.floor(Math.random() * Math.min(2 ** attempt, 256)))) ?? ip;
    }
    ip ??= await lowestFreeFrom(db, range, range.startIpInLong);
    if (ip !== undefined) return { range, ip };
  }
  return undefined;
}

async function insertUsedIp(db: Kysely<any>, range: IpRangeRow, ip: number, req: AllocateIpRequest): Promise<UsedIpView> {
  const now = Date.now();
  const row = {
    uuid: newUuid(), ipRangeUuid: range.uuid, l3NetworkUuid: range.l3NetworkUuid, ipVersion: 4, ip: longToIp(ip), netmask: range.netmask, gateway: range.gateway,
    usedFor: req.usedFor ?? null, metaData: req.metaData ?? null, ipInLong: ip, vmNicUuid: req.vmNicUuid ?? null, createDate: now, lastOpDate: now,
  };
  await db.insertInto('used_ip').values(row).execute();
  return rowToInventory(UsedIpInventory, row) as unknown as UsedIpView;
}

export async function allocateIp(db: Kysely<any>, req: AllocateIpRequest): Promise<UsedIpView> {
  const ranges = await rangesOf(db, req.l3NetworkUuid, req.ipRangeUuid);
  if (req.requiredIp !== undefined) {
    if (!isIpv4(req.requiredIp)) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `[${req.requiredIp}] is not an IPv4 address`);
    const ip = ipToLong(req.requiredIp);
    const range = ranges.find((r) => r.startIpInLong <= ip && ip <= r.endIpInLong);
    if (!range) throw new StratoError(L3Errors.ALLOCATE_IP_ERROR, `the IP ${req.requiredIp} is in no IP range of the L3 network ${req.l3NetworkUuid}`);
    try {
      return await insertUsedIp(db, range, ip, req);
    } catch (e) {
      if (isUniqueViolation(e)) throw new StratoError(L3Errors.ALLOCATE_IP_ERROR, `the IP ${req.requiredIp} is already used on the L3 network ${req.l3NetworkUuid}`);
      throw e;
    }
  }
  let inFlight = pendingByDb.get(db);
  if (!inFlight) pendingByDb.set(db, (inFlight = new Set()));
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const choice = await pick(db, ranges, req.allocatorStrategy, attempt);
    if (!choice) throw new StratoError(L3Errors.ALLOCATE_IP_ERROR, `no free IP on the L3 network ${req.l3NetworkUuid}${req.ipRangeUuid ? ` in the IP range ${req.ipRangeUuid}` : ''}`);
    // Step over addresses this process is inserting right now: they would only lose the UNIQUE race.
    const busy = (a: number) => inFlight.has(`${choice.range.l3NetworkUuid}/${a}`);
    let ip: number | undefined = choice.ip;
    while (ip !== undefined && busy(ip)) ip = await freeAndIdleFrom(db, choice.range, ip + 1, inFlight.size, busy);
    ip ??= choice.ip;
    const key = `${choice.range.l3NetworkUuid}/${ip}`;
    inFlight.add(key);
    try {
      return await insertUsedIp(db, choice.range, ip, req);
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
    } finally {
      inFlight.delete(key);
    }
  }
  throw new StratoError(L3Errors.ALLOCATE_IP_ERROR, `could not allocate an IP on the L3 network ${req.l3NetworkUuid} after ${MAX_ATTEMPTS} concurrent attempts`);
}

/**
 * The lowest address at or above `from` that is neither used nor `busy` (being inserted by this
 * process). Concurrent creates fill a range from the bottom, so in-flight and just-committed addresses
 * interleave above the lowest free one: one read of the used addresses in a window as wide as the
 * in-flight set answers in one round trip what a lookup per address took (~20 per create on MariaDB
 * with 100 creates in flight).
 */
async function freeAndIdleFrom(db: Kysely<any>, range: IpRangeRow, from: number, inFlight: number, busy: (ip: number) => boolean): Promise<number | undefined> {
  for (let start: number | undefined = from; start !== undefined && start <= range.endIpInLong;) {
    const until = Math.min(range.endIpInLong, start + inFlight + 16);
    const used = new Set((await db.selectFrom('used_ip').select('ipInLong').where('l3NetworkUuid', '=', range.l3NetworkUuid).where('ipInLong', '>=', start).where('ipInLong', '<=', until).execute()).map((r) => Number(r.ipInLong)));
    for (let a = start; a <= until; a++) if (!used.has(a) && !busy(a)) return a;
    // All taken: past a dense run the index answers in two reads (lowestFreeFrom), not a window at a time.
    start = await lowestFreeFrom(db, range, until + 1);
    if (start !== undefined && !busy(start)) return start;
  }
  return undefined;
}

/** Up to `limit` free addresses of the ranges, in order, from `start` (ZStack's GetFreeIp). */
export async function freeIps(db: Kysely<any>, ranges: IpRangeRow[], start: number | undefined, limit: number): Promise<Array<{ ipRangeUuid: string; ip: string; netmask: string; gateway: string }>> {
  const out: Array<{ ipRangeUuid: string; ip: string; netmask: string; gateway: string }> = [];
  for (const range of ranges) {
    let from = Math.max(range.startIpInLong, start ?? 0);
    while (out.length < limit && from <= range.endIpInLong) {
      const until = Math.min(range.endIpInLong, from + (limit - out.length) * 4 + 256);
      const used = new Set((await db.selectFrom('used_ip').select('ipInLong').where('l3NetworkUuid', '=', range.l3NetworkUuid).where('ipInLong', '>=', from).where('ipInLong', '<=', until).execute()).map((r) => Number(r.ipInLong)));
      for (let ip = from; ip <= until && out.length < limit; ip++) if (!used.has(ip)) out.push({ ipRangeUuid: range.uuid, ip: longToIp(ip), netmask: range.netmask, gateway: range.gateway });
      from = until + 1;
    }
    if (out.length >= limit) break;
  }
  return out;
}
