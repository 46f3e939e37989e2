import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { ApiJobStore, apiJobMigration } from '../api/api-job-store.ts';
import { buildRestServer } from '../api/rest-server.ts';
import type { WebhookOptions } from '../api/webhook.ts';
import { AGENT_CALLBACK_PATH, AgentClient } from '../core/agent/index.ts';
import { ApiRegistry } from '../core/api/api-registry.ts';
import type { ApiDef } from '../core/api/define-api.ts';
import { BUS_EVENTS_PATH, BUS_MESSAGES_PATH, Bus, HttpTransport, createBusHttpEndpoint, createLoggingInterceptor, runWithContext, type Caller } from '../core/bus/index.ts';
import { CascadeRegistry } from '../core/cascade/index.ts';
import { GlobalConfig } from '../core/config/index.ts';
import { migrate, openDatabase, setReadCacheReusePolicy, type Database } from '../core/db/index.ts';
import { errorOf, SysErrors } from '../core/errors/index.ts';
import { FlowEngine, FlowRegistry, flowMigrations, recoverUnfinishedFlows } from '../core/flow/index.ts';
import { createMetricsRegistry } from '../core/metrics/metrics.ts';
import type { NodeContext, ServiceModule } from '../core/node-context.ts';
import { ExtensionRegistry, loadPlugins } from '../core/plugin/index.ts';
import { TaskProgressStore, taskProgressMigration } from '../core/progress/index.ts';
import { InventoryRegistry } from '../core/query/index.ts';
import { WorkQueues } from '../core/queue/index.ts';
import { SystemTagRegistry, TagStore } from '../core/tag/index.ts';
import { newUuid } from '../core/util/uuid.ts';
import { registerAgentReportRoute } from './agent-report-route.ts';
import { permissionInterceptor, systemTagInterceptor } from './interceptors.ts';
import { ApiCallHeaders, IdentityMessages } from '../contracts/identity.ts';
import { Membership, membershipMigration } from './membership.ts';
import { HttpRoutesPoint } from '../contracts/http-routes.ts';
import { builtinModules } from './modules.ts';
import { startPeriodicTasks } from './periodic-tasks.ts';

export interface ManagementNodeOptions {
  /** `sqlite:<file>` or `mysql://…`. */
  dbUrl: string;
  port?: number;
  host?: string;
  /** How peers reach this node (default: host, or this machine's first non-loopback IPv4 address when listening on every address). */
  advertiseHost?: string;
  nodeUuid?: string;
  logger?: Logger;
  /** Extra service modules and plugins after the built-in ones. */
  modules?: readonly ServiceModule[];
  webhook?: WebhookOptions;
  /** How long `stop()` waits for running api jobs before closing anyway (default 10 s). */
  drainTimeoutMs?: number;
  /** Heartbeat period; a peer silent for 6 periods is fenced (ZStack: 5 s and (5+1)×5 s). */
  heartbeatMs?: number;
}

/** Published by a node once it has joined (its peers add it to their rings at once). */
const NODE_JOINED_EVENT = 'managementNode.joined';

/**
 * One management node: database, bus, queues, flows, extension points, services and the REST API.
 *
 * @example
 *   const node = await ManagementNode.start({ dbUrl: 'sqlite:/var/lib/strato/strato.db', port: 8080 });
 *   console.log(node.url);  // http://127.0.0.1:8080
 *   await node.stop();
 */
export class ManagementNode {
  private constructor(
    readonly ctx: NodeContext,
    readonly app: FastifyInstance,
    readonly url: string,
    private readonly membership: Membership,
    private readonly stopTasks: () => void,
    private readonly modules: readonly ServiceModule[],
  ) {}

  get nodeUuid(): string {
    return this.ctx.nodeUuid;
  }

  static async start(opts: ManagementNodeOptions): Promise<ManagementNode> {
    const log = opts.logger ?? pino({ name: 'strato', level: process.env.STRATO_LOG_LEVEL ?? 'info' });
    const nodeUuid = opts.nodeUuid ?? newUuid();
    const database = await openDatabase(opts.dbUrl);
    try {
      return await ManagementNode.#boot(opts, log, nodeUuid, database);
    } catch (e) {
      await database.close().catch(() => undefined);
      throw e;
    }
  }

  static async #boot(opts: ManagementNodeOptions, log: Logger, nodeUuid: string, database: Database): Promise<ManagementNode> {
    const modules = [...builtinModules, ...(opts.modules ?? [])];
    await migrate(database, [...flowMigrations, apiJobMigration, membershipMigration, taskProgressMigration, ...modules.flatMap((m) => m.migrations ?? [])]);

    const db = database.db;
    const metrics = createMetricsRegistry({ defaultMetrics: true });
    const membership0 = new Membership(db, { uuid: nodeUuid, hostName: '', port: 0 });
    const token = await membership0.clusterToken();
    const bus = new Bus({ nodeUuid, metrics, transport: new HttpTransport({ token }), logger: log.child({ component: 'bus' }) });
    const flows = new FlowRegistry();
    const tags = new TagStore(db);
    const agents = new AgentClient();
    const ctx: NodeContext = {
      nodeUuid,
      database,
      db,
      bus,
      queues: new WorkQueues({ metrics, defaultMaxPending: 10_000 }),
      flows,
      // Journal writes share commits on MariaDB too: 12-13 per create, each an autocommit (a redo-log flush)
      // taking its own pool turn; batched they take one connection (measured in the commit adding this).
      flowEngine: new FlowEngine({ registry: flows, db: database, nodeUuid, groupCommit: true, services: { db, bus, tags, agents }, log: log.child({ component: 'flow' }) }),
      extensions: new ExtensionRegistry({ log: log.child({ component: 'extensions' }) }),
      cascade: new CascadeRegistry({ log: log.child({ component: 'cascade' }) }),
      systemTags: new SystemTagRegistry(),
      tags,
      config: new GlobalConfig(),
      progress: new TaskProgressStore(db),
      inventories: new InventoryRegistry(),
      apis: new ApiRegistry(),
      log,
      metrics,
      agents,
    };
    for (const m of modules) {
      for (const inv of m.inventories ?? []) ctx.inventories.register(inv);
      ctx.apis.register(...((m.apis ?? []) as ApiDef[]));
    }
    // Before the modules' interceptors (audit, ownership, quota): a call the permission check refuses gets
    // that answer, never a quota or duplicate-uuid one.
    bus.addInterceptor(permissionInterceptor(ctx.apis, bus));
    await loadPlugins(modules, ctx);
    ctx.inventories.seal();
    ctx.cascade.seal();
    await ctx.config.load(db);
    const jobExpiry = ctx.config.define({ category: 'rest', name: 'completedApi.expiredPeriod', type: 'number', defaultValue: 10800, min: 1, description: 'seconds a completed api job stays pollable' });
    // MariaDB: the read cache (offerings, images, L3s, ranges, clusters) sees only this node's writes, so it keeps rows
    // only while this node is alone on the ring, and for at most this long (SQLite sees every write).
    const readCacheMaxAge = ctx.config.define({ category: 'db', name: 'readCache.maxAgeMs', type: 'number', defaultValue: 2000, min: 0, max: 60_000, description: 'MariaDB: how long a management node alone on the ring may keep rarely-written rows (offerings, images, networks, clusters) it read; writes made elsewhere are seen within this time; 0 reads every time' });
    setReadCacheReusePolicy(db, { allowed: () => bus.listPeers().length === 0, maxAgeMs: () => readCacheMaxAge.get() });
    await ctx.config.load(db);

    bus.addInterceptor(createLoggingInterceptor(log.child({ component: 'bus' })));
    bus.addInterceptor(systemTagInterceptor(ctx.apis, ctx.systemTags));

    const jobs = new ApiJobStore(db, nodeUuid);
    const endpoint = createBusHttpEndpoint(bus, { token });
    const app = await buildRestServer({
      apis: ctx.apis,
      jobs,
      log,
      metrics,
      webhook: opts.webhook,
      drainTimeoutMs: opts.drainTimeoutMs,
      classNameOf: (name) => ctx.inventories.find(name)?.className,
      authenticate: (cred) => ('session' in cred ? bus.call<Caller>('identity', IdentityMessages.authenticate, { sessionUuid: cred.session }) : bus.call<Caller>('identity', IdentityMessages.authenticateAccessKey, cred.accessKey)),
      dispatch: (api, params, c) => runWithContext({ deadline: c.deadline, caller: c.caller, apiId: c.apiId }, () => {
        const resourceUuid = api.resourceUuidParam ? (params[api.resourceUuidParam] as string | undefined) : undefined;
        // Marks the call's own message: the permission check and the audit act on it, not on what services send on its behalf.
        const headers: Record<string, string> = { [ApiCallHeaders.entry]: '1' };
        if (c.clientIp) headers[ApiCallHeaders.clientIp] = c.clientIp;
        return bus.call(api.service, api.name, params, { resourceUuid, headers });
      }),
      extraRoutes: (a) => {
        a.post(BUS_MESSAGES_PATH, (req) => endpoint.handleMessage(req.body, req.headers));
        a.post(BUS_EVENTS_PATH, (req) => endpoint.handleEvent(req.body, req.headers));
        // Results of asynchronous agent commands (ZStack's RESTFacade callback).
        a.post(AGENT_CALLBACK_PATH, async (req, reply) => reply.code(agents.handleCallback(req.headers, req.body)).send({}));
        // What agents report unprompted, signed with their token (ZStack's sendcommand).
        return registerAgentReportRoute(a, { extensions: ctx.extensions, log: log.child({ component: 'agent-reports' }) });
      },
    });
    // Modules' own routes beside the API (the VM console's page and websocket).
    for (const routes of ctx.extensions.observers(HttpRoutesPoint)) await routes.mount(app);
    await app.listen({ port: opts.port ?? 8080, host: opts.host ?? '0.0.0.0' });
    const port = (app.server.address() as AddressInfo).port;
    const advertise = opts.advertiseHost ?? (opts.host && opts.host !== '0.0.0.0' ? opts.host : firstExternalIPv4() ?? '127.0.0.1');
    const membership = new Membership(db, { uuid: nodeUuid, hostName: advertise, port });
    agents.setCallbackUrl(`http://${advertise}:${port}${AGENT_CALLBACK_PATH}`);

    try {
      const previousLives = await membership.join();
      if (previousLives.length) log.warn({ previous: previousLives }, 'replaced the row of a previous run of this node (same address and port); taking over its work');
      const node = new ManagementNode(ctx, app, `http://${advertise}:${port}`, membership, () => undefined, modules);
      // Peers learn of a new node at once, not at their next heartbeat: routing by the ring, and what a lone
      // node may keep (MariaDB query totals), change as soon as this node can take requests.
      ctx.bus.subscribe<{ uuid: string; url: string }>(NODE_JOINED_EVENT, (b) => {
        if (typeof b?.uuid === 'string' && typeof b.url === 'string' && b.uuid !== nodeUuid) ctx.bus.addPeer({ uuid: b.uuid, url: b.url });
      });
      await node.refreshPeers();
      await ctx.bus.publish(NODE_JOINED_EVENT, { uuid: nodeUuid, url: node.url });
      // Flows and api jobs left by nodes that are gone (this node's previous life included) are ours to finish.
      await node.takeOverFromDeadNodes();
      for (const m of modules) await m.start?.(ctx);
      const stop = startPeriodicTasks({ node, jobs, jobExpirySeconds: jobExpiry, heartbeatMs: opts.heartbeatMs ?? 5000, log });
      Object.assign(node, { stopTasks: stop });
      log.info({ nodeUuid, url: node.url, db: database.kind }, 'management node started');
      return node;
    } catch (e) {
      await app.close();
      await membership.leave().catch(() => undefined);
      throw e;
    }
  }

  /** Peers are the nodes with a row; the ring is rebuilt from them. */
  async refreshPeers(): Promise<void> {
    const rows = await this.membership.all();
    this.ctx.bus.setPeers(rows.filter((r) => r.uuid !== this.nodeUuid).map((r) => ({ uuid: r.uuid, url: `http://${r.hostName}:${r.port}` })));
  }

  /** Beat, fence peers silent for too long, and take over what they left. False if this node was fenced. */
  async heartbeat(staleMs: number): Promise<boolean> {
    if (!(await this.membership.beat())) return false;
    const fenced = await this.membership.fenceStale(staleMs);
    await this.refreshPeers();
    if (fenced.length) {
      this.ctx.log.warn({ fenced }, 'fenced silent management nodes; taking over their work');
      await this.takeOverFromDeadNodes();
    }
    return true;
  }

  /** Rolls back the unfinished flows of nodes without a row whose resources now hash to this node; fails their api jobs. */
  async takeOverFromDeadNodes(): Promise<void> {
    const alive = new Set((await this.membership.all()).map((n) => n.uuid));
    const { bus, db, flows, log, flowEngine } = this.ctx;
    const reports = await recoverUnfinishedFlows({
      db,
      registry: flows,
      owns: (e) => !alive.has(e.nodeUuid) && bus.isOwnedHere(e.resourceUuid ?? e.id),
      claimAs: this.nodeUuid,
      skipIds: flowEngine.inFlight,
      services: { db, bus, tags: this.ctx.tags, agents: this.ctx.agents },
      log: log.child({ component: 'flow-recovery' }),
    });
    for (const r of reports) log.warn({ flow: r.flowId, chain: r.chainName, resource: r.resourceUuid, state: r.state, rolledBack: r.rolledBack }, 'rolled back a flow interrupted by a node failure');
    const deadNodes = (await db.selectFrom('api_job').select('nodeUuid').distinct().where('state', '=', 'Processing').execute()).map((r) => r.nodeUuid as string).filter((u) => !alive.has(u));
    const failed = await new ApiJobStore(db, this.nodeUuid).failOrphans(errorOf(SysErrors.MANAGEMENT_NODE_UNAVAILABLE_ERROR, 'the management node running this job stopped before it finished; its work was rolled back'), deadNodes);
    if (failed) log.warn({ failed }, 'failed api jobs of stopped management nodes');
  }

  async stop(): Promise<void> {
    this.stopTasks();
    await this.app.close();
    for (const m of [...this.modules].reverse()) await m.stop?.(this.ctx);
    this.ctx.agents.close();
    await this.membership.leave().catch(() => undefined);
    this.ctx.bus.close();
    await this.ctx.database.close();
  }
}

/** Peers on other machines must reach this node: a loopback address would only ever reach themselves. */
function firstExternalIPv4(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}
