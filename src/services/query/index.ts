import type { Message } from '../../core/bus/index.ts';
import { setTotalsReusePolicy } from '../../core/db/mysql-write-tracking.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { ServiceModule } from '../../core/node-context.ts';
import { executeQuery, executeZql, tenantRestriction, type QueryOptions } from '../../core/query/index.ts';
import { queryApis } from './apis.ts';

/**
 * Answers every `Query*` API and ZQL from the inventory declarations (ZStack's `query` service):
 * one handler for all resources, so a new resource is queryable the moment it declares its inventory.
 */
interface QueryBody {
  q?: string[];
  limit?: number;
  start?: number;
  count?: boolean;
  replyWithCount?: boolean;
  sort?: string;
  sortBy?: string;
  sortDirection?: 'asc' | 'desc';
  fields?: string[];
}

export const queryService: ServiceModule = {
  id: 'query',
  apis: queryApis,
  setup(ctx) {
    const { db, inventories, apis } = ctx;
    // MariaDB: a total is counted again once this node wrote to its tables; others' writes are unseen, so it is
    // reused only while this node is alone on the ring, and for at most this long (SQLite sees every write).
    const totalsMaxAge = ctx.config.define({ category: 'query', name: 'totals.maxAgeMs', type: 'number', defaultValue: 2000, min: 0, max: 60_000, description: 'MariaDB: how long a query total (replyWithCount) may be reused by a management node that is alone on the ring; writes made elsewhere show in totals within this time; 0 counts every time' });
    setTotalsReusePolicy(db, { allowed: () => ctx.bus.listPeers().length === 0, maxAgeMs: () => totalsMaxAge.get() });
    ctx.bus.registerService({
      id: 'query',
      async handle(msg: Message<any>) {
        // Normal accounts see only what they own or what is shared with them, in every query form.
        const restrict = tenantRestriction(msg.caller);
        if (msg.type === 'ZQLQuery') return executeZql(db, inventories, (msg.body as { zql: string }).zql, { restrict });
        const api = apis.find(msg.type);
        if (!api?.query) throw new StratoError(SysErrors.UNKNOWN_MESSAGE_ERROR, `the query service cannot answer ${msg.type}`);
        const b = msg.body as QueryBody;
        const opts: QueryOptions = {
          conditions: b.q,
          limit: b.limit,
          start: b.start,
          count: b.count,
          replyWithCount: b.replyWithCount,
          // ZStack's SDKs send sort=+f/-f; older clients send sortBy + sortDirection.
          sort: b.sort ?? (b.sortBy ? `${b.sortDirection === 'desc' ? '-' : '+'}${b.sortBy}` : undefined),
          fields: b.fields,
          restrict,
        };
        return executeQuery(db, inventories, api.query.inventory, opts);
      },
    });
  },
};
