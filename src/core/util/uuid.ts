import { randomUUID } from 'node:crypto';

/** ZStack's resource ids: a v4 UUID without dashes, 32 lower-case hex characters. */
export function newUuid(): string {
  return randomUUID().replace(/-/g, '');
}

export const UUID_PATTERN = '^[0-9a-f]{32}$';
const uuidRe = new RegExp(UUID_PATTERN);

export function isUuid(v: unknown): v is string {
  return typeof v === 'string' && uuidRe.test(v);
}
