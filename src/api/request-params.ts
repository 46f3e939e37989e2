import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { TObject, TSchema } from '@sinclair/typebox';
import { StratoError, SysErrors } from '../core/errors/index.ts';
import type { ApiDef } from '../core/api/define-api.ts';

/**
 * Turns a ZStack-style request into one flat parameter object and validates it against the API's
 * schema: path variables, then the `{"<bodyKey>": {...}}` body (or the query string for GET and
 * DELETE), with top-level `systemTags`/`userTags` applied last as ZStack's RestServer does.
 */
export class TransportError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const compiled = new WeakMap<TObject, TypeCheck<TObject>>();

function checker(schema: TObject): TypeCheck<TObject> {
  let c = compiled.get(schema);
  if (!c) {
    c = TypeCompiler.Compile(schema);
    compiled.set(schema, c);
  }
  return c;
}

export function paramsFromBody(api: ApiDef, body: unknown): Record<string, unknown> {
  if (api.bodyKey === null) return {};
  if (body === undefined || body === null) {
    // ZStack accepts an action or create with an empty body only when nothing is mandatory; let validation say what is missing.
    return {};
  }
  if (typeof body !== 'object' || Array.isArray(body)) throw new TransportError(400, 'the request body must be a JSON object');
  const b = body as Record<string, unknown>;
  const inner = b[api.bodyKey];
  if (inner === undefined) throw new TransportError(400, `the request body must have the key "${api.bodyKey}" wrapping the parameters`);
  if (inner === null || typeof inner !== 'object' || Array.isArray(inner)) throw new TransportError(400, `"${api.bodyKey}" must be a JSON object`);
  const params: Record<string, unknown> = { ...(inner as Record<string, unknown>) };
  for (const k of ['systemTags', 'userTags'] as const) if (b[k] !== undefined) params[k] = b[k];
  for (const k of Object.keys(b)) if (k !== api.bodyKey && k !== 'systemTags' && k !== 'userTags') throw new TransportError(400, `unexpected key "${k}" in the request body`);
  return params;
}

/** Query-string values are text: coerce each to the type its schema property declares. */
export function paramsFromQuery(api: ApiDef, query: Record<string, string | string[]>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, raw] of Object.entries(query)) {
    const prop = api.schema.properties[k] as TSchema | undefined;
    if (!prop) {
      out[k] = raw; // reported as an unknown field by validation
      continue;
    }
    out[k] = coerce(prop, raw, k);
  }
  return out;
}

function coerce(prop: TSchema, raw: string | string[], key: string): unknown {
  const type = schemaType(prop);
  if (type === 'array') {
    const list = Array.isArray(raw) ? raw : [raw];
    // `fields=a,b` arrives as one comma-joined value; `q` is repeated, never split (conditions contain commas).
    const items = key === 'fields' ? list.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '') : list;
    const itemSchema = (prop as any).items as TSchema;
    return items.map((v) => coerceScalar(schemaType(itemSchema), v));
  }
  const one = Array.isArray(raw) ? raw[raw.length - 1] : raw;
  return coerceScalar(type, one);
}

function coerceScalar(type: string | undefined, v: string): unknown {
  if (type === 'integer' || type === 'number') return /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
  if (type === 'boolean') return v === 'true' ? true : v === 'false' ? false : v;
  return v;
}

function schemaType(s: TSchema | undefined): string | undefined {
  if (!s) return undefined;
  if (typeof (s as any).type === 'string') return (s as any).type;
  const variants = ((s as any).anyOf ?? []) as TSchema[];
  const types = new Set(variants.map((v) => (v as any).type ?? typeof (v as any).const));
  return types.size === 1 ? [...types][0] : undefined;
}

/** Validates the full parameter object; every problem is listed in one SYS.1007 error. */
export function validateParams(api: ApiDef, params: Record<string, unknown>): void {
  const c = checker(api.schema);
  if (c.Check(params)) return;
  const problems: string[] = [];
  for (const err of c.Errors(params)) {
    const field = err.path.replace(/^\//, '').replace(/\//g, '.') || '(parameters)';
    const schema = err.schema as any;
    if (err.path && !(err.path.split('/')[1] in api.schema.properties)) problems.push(`unknown parameter [${field}]`);
    else if (err.value === undefined) problems.push(`missing mandatory parameter [${field}]`);
    else problems.push(`invalid value for [${field}]: ${err.message}${schema?.pattern ? ` (pattern ${schema.pattern})` : ''}`);
    if (problems.length >= 10) break;
  }
  throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `invalid parameters for ${api.name}: ${[...new Set(problems)].join('; ')}`);
}
