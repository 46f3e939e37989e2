import type { Kysely } from 'kysely';
import { currentContext } from '../bus/context.ts';
import { col, type Migration } from '../db/index.ts';
import { newUuid } from '../util/uuid.ts';

/**
 * Progress of long API jobs (ZStack's TaskProgress): any code running on behalf of an API call —
 * a flow step, a backend, a handler several messages away — reports a percentage under a task name;
 * it is filed under the call's api id (carried by the request context), so
 * `GET /zstack/v1/task-progresses/{apiId}` and the CLI can show it while the job runs.
 *
 * @example
 *   const report = progress.reporter('download-image');   // bound to the current api call
 *   report(42);                                            // throttled; 100 is always written
 */
export const taskProgressMigration: Migration = {
  id: '0004-task-progress',
  async up(db) {
    await db.schema
      .createTable('task_progress')
      .addColumn('uuid', col.uuid, (c) => c.primaryKey())
      .addColumn('apiId', col.uuid, (c) => c.notNull())
      .addColumn('taskName', 'varchar(255)', (c) => c.notNull())
      .addColumn('type', 'varchar(32)', (c) => c.notNull())
      .addColumn('content', 'varchar(255)')
      .addColumn('opaque', 'text')
      .addColumn('time', col.date, (c) => c.notNull())
      .execute();
    await db.schema.createIndex('idx_task_progress_api').on('task_progress').columns(['apiId', 'time']).execute();
  },
};

export interface TaskProgressRow {
  uuid: string;
  apiId: string;
  taskName: string;
  type: string;
  content: string | null;
  opaque: string | null;
  time: number;
}

export class TaskProgressStore {
  readonly #last = new Map<string, { percent: number; at: number }>();

  constructor(private readonly db: Kysely<any>, private readonly minIntervalMs = 500) {}

  /** Records `percent` for the task unless it moved by less than 1 % within the interval (100 always lands). */
  async report(apiId: string, taskName: string, percent: number, opaque?: Record<string, unknown>, now = Date.now()): Promise<void> {
    const p = Math.max(0, Math.min(100, Math.floor(percent)));
    const key = `${apiId}/${taskName}`;
    const last = this.#last.get(key);
    if (last && p !== 100 && (p - last.percent < 1 || now - last.at < this.minIntervalMs)) return;
    this.#last.set(key, { percent: p, at: now });
    if (p === 100) this.#last.delete(key);
    await this.db.insertInto('task_progress').values({ uuid: newUuid(), apiId, taskName, type: 'Progress', content: String(p), opaque: opaque ? JSON.stringify(opaque) : null, time: now }).execute();
  }

  /**
   * A reporter for the API call running now; a no-op outside one. Reports never fail the work: a
   * progress row that cannot be written is dropped.
   */
  reporter(taskName: string): (percent: number, opaque?: Record<string, unknown>) => void {
    const apiId = currentContext()?.apiId;
    if (!apiId) return () => undefined;
    return (percent, opaque) => {
      void this.report(apiId, taskName, percent, opaque).catch(() => undefined);
    };
  }

  /** The newest report (or every report, oldest first, with `all`) of an api call. */
  async list(apiId: string, all: boolean): Promise<TaskProgressRow[]> {
    let q = this.db.selectFrom('task_progress').selectAll().where('apiId', '=', apiId);
    q = all ? q.orderBy('time', 'asc').orderBy('uuid', 'asc') : q.orderBy('time', 'desc').limit(1);
    return (await q.execute()) as TaskProgressRow[];
  }

  /** Removes reports older than `maxAgeMs` (they outlive their job's expiry by nothing). */
  async expire(maxAgeMs: number, now = Date.now()): Promise<number> {
    const r = await this.db.deleteFrom('task_progress').where('time', '<', now - maxAgeMs).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
