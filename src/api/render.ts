import type { ApiDef } from '../core/api/define-api.ts';
import { inventoriesText } from '../core/query/serialized.ts';

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

/**
 * A query reply's JSON text: the same bytes as JSON.stringify of `renderResult`'s body, built without
 * the body object. Inventories that arrived as JSON text from a read worker (core/query/serialized.ts)
 * are written as they are, not parsed and serialised again on the event loop; the schema map is written
 * as text (as an object of 100 keys it cost ~40 us to build and serialise, as text ~3 us). Undefined when
 * the reply has no inventories (a count): then `renderResult` answers.
 */
export function renderQueryText(api: ApiDef, value: unknown, classNameOf: (inventory: string) => string | undefined): string | undefined {
  const r = api.result;
  if (!('inventories' in r) || typeof value !== 'object' || value === null) return undefined;
  let page = inventoriesText(value);
  if (page === undefined) {
    const { inventories } = value as { inventories?: unknown };
    if (!Array.isArray(inventories)) return undefined;
    page = { text: JSON.stringify(inventories), count: inventories.length };
  }
  const { total } = value as { total?: number };
  const cls = classNameOf(r.inventories);
  // The schema map as JSON.stringify writes it (its keys need no escaping), without building the object.
  let schema = '';
  if (cls) {
    const name = JSON.stringify(cls);
    for (let i = 0; i < page.count; i++) schema += `${i ? ',' : ''}"inventories[${i}]":${name}`;
  }
  return `{"inventories":${page.text}${total !== undefined ? `,"total":${JSON.stringify(total)}` : ''},"schema":{${schema}}}`;
}
