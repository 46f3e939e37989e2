import type { TSchema } from '@sinclair/typebox';
import type { ApiDef } from '../../src/core/api/define-api.ts';

/**
 * Turns an API definition plus a flat parameter object into the HTTP request ZStack's SDKs would
 * send (path variables, `{"<bodyKey>": {...}}` body or query string), so that tests can loop over
 * the whole API catalog and mutate one parameter at a time.
 */
export interface CatalogRequest {
  method: string;
  path: string;
  body?: unknown;
}

export const pathVars = (api: ApiDef): string[] => [...api.path.matchAll(/\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1]);

export function toRequest(api: ApiDef, params: Record<string, unknown>, extraTop: Record<string, unknown> = {}): CatalogRequest {
  const vars = pathVars(api);
  const path = api.path.replace(/\{([A-Za-z0-9_]+)\}/g, (_m, k: string) => encodeURIComponent(String(params[k])));
  const rest = Object.fromEntries(Object.entries(params).filter(([k]) => !vars.includes(k)));
  if (api.bodyKey === null) {
    const u = new URLSearchParams();
    for (const [k, v] of Object.entries(rest)) for (const one of Array.isArray(v) ? v : [v]) u.append(k, String(one));
    const q = u.toString();
    return { method: api.method, path: q ? `${path}?${q}` : path };
  }
  const { systemTags, userTags, ...inner } = rest;
  const body: Record<string, unknown> = { [api.bodyKey]: inner, ...extraTop };
  if (systemTags !== undefined) body.systemTags = systemTags;
  if (userTags !== undefined) body.userTags = userTags;
  return { method: api.method, path, body };
}

/** The JSON type a parameter's schema declares (`string`, `number`, `integer`, `boolean`, `array`, `object`). */
export function jsonTypeOf(s: TSchema | undefined): string | undefined {
  if (!s) return undefined;
  if (typeof (s as any).type === 'string') return (s as any).type;
  const variants = ((s as any).anyOf ?? []) as TSchema[];
  const types = new Set(variants.map((v) => (v as any).type ?? typeof (v as any).const));
  return types.size === 1 ? [...types][0] : undefined;
}

/** A value of the wrong JSON type for the schema, or undefined when none can be expressed. */
export function wrongTypeFor(s: TSchema, inQueryString: boolean): unknown {
  const type = jsonTypeOf(s);
  if (inQueryString) {
    // Query-string values are text: only numbers and booleans can be of the wrong type.
    if (type === 'number' || type === 'integer') return 'not-a-number';
    if (type === 'boolean') return 'maybe';
    return undefined;
  }
  switch (type) {
    case 'string': return 42;
    case 'number':
    case 'integer': return 'forty-two';
    case 'boolean': return 'yes';
    case 'array': return 'not-a-list';
    case 'object': return 'not-an-object';
    default: return undefined;
  }
}

export const UUID_PATTERN = '^[0-9a-f]{32}$';

/** Parameters that name an existing resource (not the client-chosen uuid of a resource being created). */
export function uuidParams(api: ApiDef): string[] {
  return Object.entries(api.schema.properties)
    .filter(([k, s]) => (s as any).pattern === UUID_PATTERN && !(api.create && k === 'resourceUuid'))
    .map(([k]) => k);
}
