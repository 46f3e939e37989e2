import { IdentityEvents, type AuthenticationFailure } from '../../contracts/identity.ts';
import type { ConfigHandle } from '../../core/config/index.ts';
import type { ServiceModule } from '../../core/node-context.ts';
import { auditApis } from './apis.ts';
import { AuditRecorder } from './recorder.ts';
import { auditMigration, AuditInventory } from './schema.ts';


const recorders = new WeakMap<object, { recorder: AuditRecorder; retentionDays: ConfigHandle<number>; timer?: NodeJS.Timeout }>();

/** The audit trail of API calls, answered by the query service for administrators. */
export const auditService: ServiceModule = {
  id: 'audit',
  migrations: [auditMigration],
  inventories: [AuditInventory],
  apis: auditApis,
  setup(ctx) {
    const recorder = new AuditRecorder(ctx.db, ctx.log.child({ component: 'audit' }));
    const retentionDays = ctx.config.define({ category: 'audit', name: 'retention.days', type: 'number', defaultValue: 90, min: 1, max: 36500, description: 'days API call records are kept' });
    recorders.set(ctx, { recorder, retentionDays });
    // Runs after the permission check (its afterReply still sees the calls that check refuses) and before ownership.
    ctx.bus.addInterceptor(recorder.interceptor());
    // Refused signed requests never become calls; the node that refused one records it (events reach every node).
    ctx.bus.subscribe<AuthenticationFailure>(IdentityEvents.authenticationFailed, (f, event) => {
      if (event.sourceNodeUuid === ctx.nodeUuid) recorder.recordRefusal(f);
    });
  },
  start(ctx) {
    const r = recorders.get(ctx);
    if (!r) return;
    const purge = () => void r.recorder.purgeOlderThan(Date.now() - r.retentionDays.get() * 86_400_000).catch((err: unknown) => ctx.log.warn({ err }, 'failed to purge old audit records'));
    r.timer = setInterval(purge, 3_600_000);
    r.timer.unref();
  },
  async stop(ctx) {
    const r = recorders.get(ctx);
    if (r?.timer) clearInterval(r.timer);
    await r?.recorder.flush();
  },
};

/** For tests and shutdown: waits until every record so far is written. */
export function flushAudit(ctx: object): Promise<void> {
  return recorders.get(ctx)?.recorder.flush() ?? Promise.resolve();
}
