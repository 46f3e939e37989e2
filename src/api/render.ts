import type { ApiDef } from '../core/api/define-api.ts';

/**
 * Shapes a handler's value into ZStack's reply body for the API's declared result kind. Query
 * replies carry a `schema` map naming each element's ZStack class, which ZStack's Java SDK needs
 * to type the elements (reference/zstack-java-sdk-wire.md §3.2).
 */
export function renderResult(api: ApiDef, value: unknown, classNameOf: (inventory: string) => string | undefined): Record<string, unknown> {
  const r = api.result;
  if ('none' in r) return {};
  if ('inventory' in r) return { inventory: value ?? null };
  if ('fields' in r) return (value ?? {}) as Record<string, unknown>;
  const v = (value ?? {}) as { inventories?: unknown[]; total?: number };
  const body: Record<string, unknown> = {};
  if (v.inventories !== undefined) body.inventories = v.inventories;
  if (v.total !== undefined) body.total = v.total;
  if (v.inventories !== undefined) {
    const cls = classNameOf(r.inventories);
    const schema: Record<string, string> = {};
    if (cls) for (let i = 0; i < v.inventories.length; i++) schema[`inventories[${i}]`] = cls;
    body.schema = schema;
  }
  return body;
}
