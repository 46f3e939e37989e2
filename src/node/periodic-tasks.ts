import type { Logger } from 'pino';
import type { ApiJobStore } from '../api/api-job-store.ts';
import type { ConfigHandle } from '../core/config/index.ts';
import { FlowJournal } from '../core/flow/index.ts';
import type { ManagementNode } from './management-node.ts';

/**
 * The node's housekeeping loops: heartbeat and fencing, expiry of completed api jobs. Each loop
 * waits for its previous round to finish; errors are logged, never thrown.
 */
export function startPeriodicTasks(o: { node: ManagementNode; jobs: ApiJobStore; jobExpirySeconds: ConfigHandle<number>; heartbeatMs: number; log: Logger }): () => void {
  const timers: NodeJS.Timeout[] = [];
  const every = (ms: number, name: string, fn: () => Promise<void>) => {
    let running = false;
    const t = setInterval(() => {
      if (running) return;
      running = true;
      fn().catch((err) => o.log.error({ err, task: name }, 'periodic task failed')).finally(() => { running = false; });
    }, ms);
    t.unref();
    timers.push(t);
  };
  every(o.heartbeatMs, 'heartbeat', async () => {
    if (!(await o.node.heartbeat(o.heartbeatMs * 6))) {
      // Another node fenced us: our resources are theirs now. Stop rather than act on stale ownership.
      o.log.fatal('this management node was fenced by its peers; exiting');
      process.exit(3);
    }
  });
  every(60_000, 'api-job-expiry', async () => {
    const n = await o.jobs.expire(o.jobExpirySeconds.get() * 1000);
    await o.node.ctx.progress.expire(o.jobExpirySeconds.get() * 1000);
    if (n) o.log.debug({ expired: n }, 'expired completed api jobs');
  });
  every(600_000, 'flow-journal-prune', async () => {
    // Done and RolledBack journal rows are only needed while their flow runs; RollbackFailed ones stay for operators.
    await new FlowJournal(o.node.ctx.db).prune(Date.now() - 24 * 3600_000);
  });
  return () => timers.forEach((t) => clearInterval(t));
}
