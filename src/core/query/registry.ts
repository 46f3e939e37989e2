import type { NormalizedInventoryDef } from './inventory.ts';

/**
 * Every queryable inventory of the node, by class name (`ZoneInventory`) and by ZQL entity (`zone`).
 * Services and plugins register during start-up; `seal()` then checks that every expansion points at
 * a registered inventory and at real fields, so a typo fails the node's start, not a user's query.
 *
 * @example
 *   const registry = new InventoryRegistry().register(ZoneInventory).register(ClusterInventory).seal();
 *   registry.byEntity('cluster')?.table // 'cluster'
 */
export class InventoryRegistry {
  readonly #byName = new Map<string, NormalizedInventoryDef>();
  readonly #byEntity = new Map<string, NormalizedInventoryDef>();
  #sealed = false;

  register(def: NormalizedInventoryDef): this {
    if (this.#sealed) throw new Error(`cannot register ${def.name}: the inventory registry is sealed`);
    if (this.#byName.has(def.name)) throw new Error(`inventory ${def.name} is already registered`);
    const entity = def.entity.toLowerCase();
    const clash = this.#byEntity.get(entity);
    if (clash) throw new Error(`inventory ${def.name} has ZQL entity '${entity}', already used by ${clash.name}`);
    this.#byName.set(def.name, def);
    this.#byEntity.set(entity, def);
    return this;
  }

  /** Validates expansions and freezes the registry; queries refuse to run before this. */
  seal(): this {
    const problems: string[] = [];
    for (const def of this.#byName.values()) {
      for (const s of (def.defaultSort ?? '').split(',').map((x) => x.trim().replace(/^[+-]/, '')).filter(Boolean)) {
        if (!def.fields[s] || def.fields[s].hidden) problems.push(`${def.name}: defaultSort field ${s} is not a visible field`);
      }
      for (const [name, exp] of Object.entries(def.expansions)) {
        if (def.fields[name]) problems.push(`${def.name}.${name}: expansion has the same name as a field`);
        const target = this.#byName.get(exp.inventory);
        if (!target) {
          problems.push(`${def.name}.${name}: expands to ${exp.inventory}, which is not registered`);
          continue;
        }
        if (!def.fields[exp.foreignKey]) problems.push(`${def.name}.${name}: foreignKey ${exp.foreignKey} is not a field of ${def.name}`);
        if (!target.fields[exp.expandedKey]) problems.push(`${def.name}.${name}: expandedKey ${exp.expandedKey} is not a field of ${target.name}`);
      }
    }
    if (problems.length > 0) throw new Error(`invalid inventory declarations:\n  ${problems.join('\n  ')}`);
    this.#sealed = true;
    return this;
  }

  get sealed(): boolean {
    return this.#sealed;
  }

  /** By class name (`ZoneInventory`); undefined when unknown. */
  find(name: string): NormalizedInventoryDef | undefined {
    return this.#byName.get(name);
  }

  /** By class name; throws when unknown (a programming error, not a user error). */
  get(name: string): NormalizedInventoryDef {
    const def = this.#byName.get(name);
    if (!def) throw new Error(`inventory ${name} is not registered`);
    return def;
  }

  /** By ZQL entity name, case-insensitively (`zone`, `VmInstance`). */
  byEntity(entity: string): NormalizedInventoryDef | undefined {
    return this.#byEntity.get(entity.toLowerCase());
  }

  list(): NormalizedInventoryDef[] {
    return [...this.#byName.values()];
  }

  entities(): string[] {
    return [...this.#byEntity.keys()].sort();
  }
}
