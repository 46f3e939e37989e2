import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * ZStack's signed requests (what `ZSClient` sends, reference/zstack-java-sdk-wire.md §1.7):
 * `Authorization: ZStack <AccessKeyId>:<Base64(HMAC-SHA1(secret, METHOD + "\n" + Date + "\n" + "/v1" + path))>`
 * with the `Date` header exactly as sent (`Fri, 27 Nov 2026 02:57:26 Etc/UTC`).
 */
export function signRequest(secret: string, method: string, date: string, path: string): string {
  return createHmac('sha1', secret).update(`${method.toUpperCase()}\n${date}\n${path}`).digest('base64');
}

export function signatureMatches(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * The instant a `Date` header names. ZStack's SDK writes the zone as a zone id (`Etc/UTC`,
 * `Asia/Shanghai`), which `Date.parse` does not read; RFC 1123 forms (`GMT`, `+0800`) are read too.
 */
export function parseSignedDate(value: string): number | undefined {
  const m = /^[A-Za-z]{3}, (\d{1,2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) (\S+)$/.exec(value.trim());
  if (!m) return undefined;
  const month = MONTHS.indexOf(m[2]);
  if (month < 0) return undefined;
  const asUtc = Date.UTC(Number(m[3]), month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  const zone = m[7];
  const offset = /^[+-]\d{4}$/.test(zone) ? (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3))) * 60_000 : zoneOffsetMs(zone, asUtc);
  return offset === undefined ? undefined : asUtc - offset;
}

/** How far the zone is ahead of UTC at (about) that instant; undefined for an unknown zone. */
function zoneOffsetMs(zone: string, at: number): number | undefined {
  if (zone === 'GMT' || zone === 'UTC' || zone === 'Z') return 0;
  try {
    const parts = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' }).formatToParts(at);
    const v = (t: string) => Number(parts.find((p) => p.type === t)?.value);
    return Date.UTC(v('year'), v('month') - 1, v('day'), v('hour'), v('minute'), v('second')) - at;
  } catch {
    return undefined;
  }
}

/** What ZStack's SDK writes: `Fri, 27 Nov 2026 02:57:26 Etc/UTC`. */
export function formatSignedDate(at: number): string {
  const d = new Date(at);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${days[d.getUTCDay()]}, ${p(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} Etc/UTC`;
}
