/**
 * The `schema` map ZStack's SDKs need to type the elements of raw lists (zstack-java-sdk-wire.md §3.2):
 * one key per element, `"inventories[i]"`, and one per element of a nested list,
 * `"inventories[i].vmNics[j]"`, with every parent key written before its children (the SDK applies
 * them in order). Values are ZStack *server* class names.
 */

/**
 * Class names of nested list properties, by property name, to any depth:
 * `{ vmNics: { className: 'org.zstack.header.vm.VmNicInventory', nested: { usedIps: 'org.zstack.header.network.l3.UsedIpInventory' } } }`.
 */
export type NestedListClasses = Readonly<Record<string, string | { className: string; nested?: NestedListClasses }>>;

/**
 * Schema entries for a list at `path` (e.g. `inventories`), depth-first, parents first.
 *
 * @example
 *   buildListSchema('inventories', zones, 'org.zstack.header.zone.ZoneInventory')
 *   // { 'inventories[0]': 'org.zstack.header.zone.ZoneInventory', 'inventories[1]': … }
 */
export function buildListSchema(path: string, items: readonly unknown[], className: string, nested: NestedListClasses = {}): Record<string, string> {
  const out: Record<string, string> = {};
  items.forEach((item, i) => {
    const key = `${path}[${i}]`;
    out[key] = className;
    Object.assign(out, buildNestedSchema(key, item, nested));
  });
  return out;
}

/**
 * Schema entries for the nested lists inside one object at `path` (the object itself is not listed:
 * use it for a typed single `inventory`, whose own key is optional, or for each list element).
 *
 * @example buildNestedSchema('inventory', vm, { vmNics: 'org.zstack.header.vm.VmNicInventory' })
 */
export function buildNestedSchema(path: string, value: unknown, nested: NestedListClasses = {}): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof value !== 'object' || value === null) return out;
  for (const [prop, spec] of Object.entries(nested)) {
    const list = (value as Record<string, unknown>)[prop];
    const { className, nested: deeper } = typeof spec === 'string' ? { className: spec, nested: undefined } : spec;
    if (Array.isArray(list)) Object.assign(out, buildListSchema(`${path}.${prop}`, list, className, deeper));
  }
  return out;
}

/**
 * The schema of a query reply `{inventories, total?}`: `{}` when there are no inventories (count
 * queries), never null (the SDK fails on `"schema": null`).
 *
 * @example reply.schema = buildQueryReplySchema(reply.inventories, ZoneInventory.className);
 */
export function buildQueryReplySchema(inventories: readonly unknown[] | undefined, className: string, nested: NestedListClasses = {}): Record<string, string> {
  return inventories ? buildListSchema('inventories', inventories, className, nested) : {};
}
