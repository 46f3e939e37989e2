/**
 * An inventory is a resource as the API shows it (ZStack's `*Inventory` classes). Each resource
 * declares its inventory once; the query engine, ZQL, the REST layer, the schema map and the
 * OpenAPI document all read this declaration.
 *
 * @example
 *   export const ZoneInventory = defineInventory({
 *     name: 'ZoneInventory', className: 'org.zstack.header.zone.ZoneInventory',
 *     table: 'zone', resourceType: 'ZoneVO',
 *     fields: { uuid: 'string', name: 'string', description: 'string', state: 'string', type: 'string',
 *               isDefault: 'boolean', createDate: 'date', lastOpDate: 'date' },
 *     expansions: { cluster: { inventory: 'ClusterInventory', foreignKey: 'uuid', expandedKey: 'zoneUuid' } },
 *   });
 */
export type FieldType = 'string' | 'number' | 'boolean' | 'date';

export interface FieldDef {
  type: FieldType;
  /** Column name when it differs from the field name. */
  column?: string;
  /** Never returned and never queryable (passwords, tokens). */
  hidden?: boolean;
}

/**
 * A nested path `zone.name=…` on clusters: rows of `inventory` whose `expandedKey` equals this row's `foreignKey`.
 * Compiles to `this.foreignKey IN (SELECT expandedKey FROM other WHERE …)`.
 */
export interface ExpansionDef {
  inventory: string;
  foreignKey: string;
  expandedKey: string;
}

export interface InventoryDef {
  /** Simple class name, e.g. `ZoneInventory`; the ZQL entity is this lower-cased minus `inventory` (`zone`). */
  name: string;
  /** ZStack's server class name, written into reply `schema` maps so ZStack's SDKs type the elements. */
  className: string;
  table: string;
  /** ZStack's VO name used by tags and cascade (`ZoneVO`). */
  resourceType: string;
  primaryKey?: string;
  fields: Record<string, FieldType | FieldDef>;
  expansions?: Record<string, ExpansionDef>;
  /** Sort applied when the caller gives none, so paging is stable. Default: createDate then primary key. */
  defaultSort?: string;
}

export interface NormalizedInventoryDef extends Omit<InventoryDef, 'fields' | 'primaryKey' | 'expansions'> {
  primaryKey: string;
  fields: Record<string, Required<Pick<FieldDef, 'type' | 'column'>> & { hidden: boolean }>;
  expansions: Record<string, ExpansionDef>;
  /** ZQL entity name: `zone`, `vminstance`. */
  entity: string;
}

export function defineInventory(def: InventoryDef): NormalizedInventoryDef {
  const fields: NormalizedInventoryDef['fields'] = {};
  for (const [name, f] of Object.entries(def.fields)) {
    const d = typeof f === 'string' ? { type: f } : f;
    fields[name] = { type: d.type, column: d.column ?? name, hidden: d.hidden ?? false };
  }
  const primaryKey = def.primaryKey ?? 'uuid';
  if (!fields[primaryKey]) throw new Error(`${def.name}: primary key ${primaryKey} is not a field`);
  return { ...def, primaryKey, fields, expansions: def.expansions ?? {}, entity: def.name.replace(/Inventory$/, '').toLowerCase() };
}

/** A definition's visible fields in declaration order, listed once: every returned row walks this list. */
const visibleFieldLists = new WeakMap<NormalizedInventoryDef, ReadonlyArray<{ name: string; column: string; type: FieldType }>>();

function visibleFields(def: NormalizedInventoryDef): ReadonlyArray<{ name: string; column: string; type: FieldType }> {
  let list = visibleFieldLists.get(def);
  if (list === undefined) {
    list = Object.entries(def.fields).filter(([, f]) => !f.hidden).map(([name, f]) => ({ name, column: f.column, type: f.type }));
    visibleFieldLists.set(def, list);
  }
  return list;
}

/** Converts a database row to the inventory's JSON shape: dates as ISO 8601 with zone, booleans as true/false. */
export function rowToInventory(def: NormalizedInventoryDef, row: Record<string, unknown>, only?: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of visibleFields(def)) {
    if (only && !only.includes(f.name)) continue;
    const v = row[f.column];
    if (v === undefined) continue;
    out[f.name] = convertOut(f.type, v);
  }
  return out;
}

function convertOut(type: FieldType, v: unknown): unknown {
  if (v === null) return null;
  switch (type) {
    case 'date': return new Date(Number(v)).toISOString();
    case 'boolean': return v === true || v === 1 || v === '1';
    case 'number': return typeof v === 'string' ? Number(v) : v;
    default: return v;
  }
}
