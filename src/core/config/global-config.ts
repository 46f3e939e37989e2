import type { Kysely } from 'kysely';
import { StratoError, SysErrors } from '../errors/index.ts';
import type { Migration } from '../db/index.ts';

/**
 * Typed, validated, persisted settings with defaults (ZStack's GlobalConfig). Reads are synchronous
 * from memory; `update` validates, persists, then notifies observers.
 *
 * @example
 *   const pingInterval = config.define({ category: 'host', name: 'ping.interval', type: 'number',
 *     defaultValue: 60, min: 1, description: 'seconds between host pings' });
 *   pingInterval.get();                       // 60
 *   pingInterval.onChange((v) => tracker.reschedule(v));
 */
export type ConfigType = 'string' | 'number' | 'boolean';
type ValueOf<K extends ConfigType> = K extends 'number' ? number : K extends 'boolean' ? boolean : string;

export interface ConfigDef<K extends ConfigType> {
  category: string;
  name: string;
  type: K;
  defaultValue: ValueOf<K>;
  description: string;
  min?: number;
  max?: number;
  /** Only these values are accepted. */
  validValues?: readonly ValueOf<K>[];
  /** Extra check; throw a StratoError to refuse. */
  validate?(value: ValueOf<K>): void;
}

export interface ConfigHandle<T> {
  readonly category: string;
  readonly name: string;
  get(): T;
  onChange(listener: (value: T, old: T) => void | Promise<void>): () => void;
}

interface Entry {
  def: ConfigDef<ConfigType>;
  value: unknown;
  listeners: Set<(v: any, old: any) => void | Promise<void>>;
}

export const globalConfigMigration: Migration = {
  id: '0001-core-global-config',
  async up(db) {
    await db.schema
      .createTable('global_config')
      .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('category', 'varchar(64)', (c) => c.notNull())
      .addColumn('name', 'varchar(128)', (c) => c.notNull())
      .addColumn('description', 'text')
      .addColumn('defaultValue', 'text')
      .addColumn('value', 'text')
      .addUniqueConstraint('uq_global_config_category_name', ['category', 'name'])
      .execute();
  },
};

export class GlobalConfig {
  readonly #entries = new Map<string, Entry>();
  #db: Kysely<any> | undefined;

  define<K extends ConfigType>(def: ConfigDef<K>): ConfigHandle<ValueOf<K>> {
    const key = `${def.category}.${def.name}`;
    if (this.#entries.has(key)) throw new Error(`global config ${key} defined twice`);
    this.#check(def as ConfigDef<ConfigType>, def.defaultValue);
    const entry: Entry = { def: def as ConfigDef<ConfigType>, value: def.defaultValue, listeners: new Set() };
    this.#entries.set(key, entry);
    return {
      category: def.category,
      name: def.name,
      get: () => entry.value as ValueOf<K>,
      onChange: (l) => {
        entry.listeners.add(l);
        return () => entry.listeners.delete(l);
      },
    };
  }

  /** Inserts rows for new settings (keeping values operators set) and loads every value into memory. */
  async load(db: Kysely<any>): Promise<void> {
    this.#db = db;
    const rows = await db.selectFrom('global_config').selectAll().execute();
    const existing = new Map(rows.map((r) => [`${r.category}.${r.name}`, r]));
    for (const [key, e] of this.#entries) {
      const row = existing.get(key);
      const defaultText = String(e.def.defaultValue);
      if (!row) {
        await db.insertInto('global_config').values({ category: e.def.category, name: e.def.name, description: e.def.description, defaultValue: defaultText, value: defaultText }).execute();
        continue;
      }
      if (row.defaultValue !== defaultText || row.description !== e.def.description) {
        await db.updateTable('global_config').set({ defaultValue: defaultText, description: e.def.description }).where('id', '=', row.id).execute();
      }
      try {
        e.value = this.#parse(e.def, String(row.value));
      } catch {
        e.value = e.def.defaultValue; // a value made invalid by a newer release falls back to the default
      }
    }
  }

  /** Validates and persists a new value given as text (as the API sends it), then notifies observers. */
  async update(category: string, name: string, text: string): Promise<void> {
    const e = this.#entry(category, name);
    const value = this.#parse(e.def, text);
    if (!this.#db) throw new StratoError(SysErrors.NOT_READY_ERROR, 'global configuration is not loaded');
    await this.#db.updateTable('global_config').set({ value: String(value) }).where('category', '=', category).where('name', '=', name).execute();
    await this.applyRemoteChange(category, name, String(value));
  }

  /** Another node changed a value: take it without writing, and notify local observers. */
  async applyRemoteChange(category: string, name: string, text: string): Promise<void> {
    const e = this.#entries.get(`${category}.${name}`);
    if (!e) return;
    const value = this.#parse(e.def, text);
    const old = e.value;
    if (old === value) return;
    e.value = value;
    for (const l of e.listeners) {
      try {
        await l(value, old);
      } catch {
        // an observer's failure never undoes a persisted setting; observers log their own errors
      }
    }
  }

  get(category: string, name: string): unknown {
    return this.#entry(category, name).value;
  }

  #entry(category: string, name: string): Entry {
    const e = this.#entries.get(`${category}.${name}`);
    if (!e) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `no global configuration ${category}.${name}`);
    return e;
  }

  #parse(def: ConfigDef<ConfigType>, text: string): ValueOf<ConfigType> {
    let v: ValueOf<ConfigType>;
    if (def.type === 'number') {
      if (!/^-?\d+(\.\d+)?$/.test(text.trim())) throw invalid(def, text, 'a number');
      v = Number(text);
    } else if (def.type === 'boolean') {
      if (text !== 'true' && text !== 'false') throw invalid(def, text, 'true or false');
      v = text === 'true';
    } else {
      v = text;
    }
    this.#check(def, v);
    return v;
  }

  #check(def: ConfigDef<ConfigType>, v: ValueOf<ConfigType>): void {
    if (typeof v === 'number') {
      if (def.min !== undefined && v < def.min) throw invalid(def, String(v), `>= ${def.min}`);
      if (def.max !== undefined && v > def.max) throw invalid(def, String(v), `<= ${def.max}`);
    }
    if (def.validValues && !def.validValues.includes(v)) throw invalid(def, String(v), `one of ${def.validValues.join(', ')}`);
    def.validate?.(v);
  }
}

function invalid(def: ConfigDef<ConfigType>, text: string, expected: string): StratoError {
  return new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `invalid value [${text}] for global configuration ${def.category}.${def.name}: expected ${expected}`);
}
