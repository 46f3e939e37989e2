import type { Kysely } from 'kysely';
import type { AgentClient } from './agent/index.ts';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ApiDef } from './api/define-api.ts';
import type { ApiRegistry } from './api/api-registry.ts';
import type { Bus } from './bus/index.ts';
import type { CascadeRegistry } from './cascade/index.ts';
import type { GlobalConfig } from './config/index.ts';
import type { Database, Migration } from './db/index.ts';
import type { FlowEngine } from './flow/index.ts';
import type { Plugin, PluginContext } from './plugin/index.ts';
import type { InventoryRegistry, NormalizedInventoryDef } from './query/index.ts';
import type { TaskProgressStore } from './progress/index.ts';
import type { WorkQueues } from './queue/index.ts';
import type { SystemTagRegistry, TagStore } from './tag/index.ts';

/**
 * Everything a service or plugin may use, handed to its `setup`. Services reach each other only
 * through `bus` (messages and events) and `extensions` (strategy and observer points): never imports.
 */
export interface NodeContext extends PluginContext {
  readonly nodeUuid: string;
  readonly database: Database;
  readonly db: Kysely<any>;
  readonly bus: Bus;
  readonly queues: WorkQueues;
  readonly flowEngine: FlowEngine;
  readonly cascade: CascadeRegistry;
  readonly systemTags: SystemTagRegistry;
  readonly tags: TagStore;
  readonly config: GlobalConfig;
  /** Progress reports of long API jobs (`progress.reporter('download-image')(42)`). */
  readonly progress: TaskProgressStore;
  readonly inventories: InventoryRegistry;
  readonly apis: ApiRegistry;
  readonly log: Logger;
  readonly metrics: Registry;
  /** The node side of the agent protocol: commands to hosts' and storages' agents. */
  readonly agents: AgentClient;
}

/**
 * A service (or plugin) as the node loads it: its schema, its inventories and APIs as data, and a
 * `setup` that registers bus handlers, cascade entries, system tags, config and extensions.
 * `start` runs once every module is set up and the database is ready (periodic tasks, recovery).
 *
 * @example
 *   export const zoneService: ServiceModule = { id: 'zone', migrations: [zoneMigration],
 *     inventories: [ZoneInventory], apis: zoneApis, setup: (ctx) => registerZoneHandlers(ctx) };
 */
export interface ServiceModule extends Plugin<NodeContext> {
  readonly migrations?: readonly Migration[];
  readonly inventories?: readonly NormalizedInventoryDef[];
  readonly apis?: readonly ApiDef<any>[];
  start?(ctx: NodeContext): void | Promise<void>;
  stop?(ctx: NodeContext): void | Promise<void>;
}

declare module './flow/step.ts' {
  /** What flow steps find in `env.services` on a management node (also during crash recovery). */
  interface FlowServices {
    db?: Kysely<any>;
    bus?: Bus;
    tags?: TagStore;
    agents?: AgentClient;
  }
}
