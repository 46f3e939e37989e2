/** Parameter names whose values never leave the request: passwords, secrets, tokens, keys, sessions (a session uuid is a credential). */
const SECRET_NAME = /pass(word)?|secret|token|key|credential|signature|session/i;
export const MASK = '*****';

/**
 * A copy of the parameters with every value under a secret-looking name replaced by `*****`, at any
 * depth (statements, nested options); other values are kept as they are.
 */
export function maskSecrets(value: unknown, depth = 0): unknown {
  if (depth > 20) return MASK;
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v, depth + 1));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_NAME.test(k) && v !== undefined && v !== null ? MASK : maskSecrets(v, depth + 1);
  return out;
}
