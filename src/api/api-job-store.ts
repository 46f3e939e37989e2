import type { Kysely } from 'kysely';
import { col, isUniqueViolation, type Migration } from '../core/db/index.ts';
import type { ErrorCode } from '../core/errors/index.ts';

/**
 * Async API jobs live in the database so that any management node can answer a poll
 * (ZStack's AsyncRestVO). A job id is the client's `X-Job-UUID` when given: the primary key
 * makes a repeated id a no-op instead of a second run.
 */
export const apiJobMigration: Migration = {
  id: '0002-api-jobs',
  async up(db) {
    await db.schema
      .createTable('api_job')
      .addColumn('uuid', col.uuid, (c) => c.primaryKey())
      .addColumn('apiName', 'varchar(128)', (c) => c.notNull())
      .addColumn('state', 'varchar(16)', (c) => c.notNull())
      .addColumn('result', 'text')
      .addColumn('nodeUuid', col.uuid, (c) => c.notNull())
      .addColumn('accountUuid', col.uuid)
      .addColumn('webhook', 'varchar(2048)')
      .addColumn('createDate', col.date, (c) => c.notNull())
      .addColumn('completedDate', col.date)
      .execute();
    await db.schema.createIndex('idx_api_job_state_completed').on('api_job').columns(['state', 'completedDate']).execute();
    await db.schema.createIndex('idx_api_job_node_state').on('api_job').columns(['nodeUuid', 'state']).execute();
  },
};

export type JobState = 'Processing' | 'Succeeded' | 'Failed';

export interface ApiJob {
  uuid: string;
  apiName: string;
  state: JobState;
  /** Succeeded: the reply body; Failed: `{ error }`. */
  result?: Record<string, unknown>;
  accountUuid?: string | null;
  webhook?: string | null;
}

export class ApiJobStore {
  constructor(private readonly db: Kysely<any>, private readonly nodeUuid: string) {}

  /** Records a new job; false when a job with this id exists already (the caller must not run it again). */
  async create(job: { uuid: string; apiName: string; accountUuid?: string; webhook?: string }): Promise<boolean> {
    try {
      await this.db.insertInto('api_job').values({ uuid: job.uuid, apiName: job.apiName, state: 'Processing', nodeUuid: this.nodeUuid, accountUuid: job.accountUuid ?? null, webhook: job.webhook ?? null, createDate: Date.now() }).execute();
      return true;
    } catch (e) {
      if (isUniqueViolation(e)) return false;
      throw e;
    }
  }

  async complete(uuid: string, outcome: { success: true; body: Record<string, unknown> } | { success: false; error: ErrorCode }): Promise<void> {
    const result = outcome.success ? outcome.body : { error: outcome.error };
    await this.db.updateTable('api_job').set({ state: outcome.success ? 'Succeeded' : 'Failed', result: JSON.stringify(result), completedDate: Date.now() }).where('uuid', '=', uuid).execute();
  }

  async get(uuid: string): Promise<ApiJob | undefined> {
    const row = await this.db.selectFrom('api_job').select(['uuid', 'apiName', 'state', 'result', 'accountUuid', 'webhook']).where('uuid', '=', uuid).executeTakeFirst();
    if (!row) return undefined;
    return { ...row, result: row.result ? JSON.parse(row.result) : undefined } as ApiJob;
  }

  /** Deletes completed jobs older than `maxAgeMs`; returns how many. */
  async expire(maxAgeMs: number, now = Date.now()): Promise<number> {
    const r = await this.db.deleteFrom('api_job').where('state', 'in', ['Succeeded', 'Failed']).where('completedDate', '<', now - maxAgeMs).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /** Jobs this node was running when it died can never complete: fail them so pollers get an answer. */
  async failOrphans(error: ErrorCode, nodeUuids: readonly string[]): Promise<number> {
    if (nodeUuids.length === 0) return 0;
    const r = await this.db.updateTable('api_job').set({ state: 'Failed', result: JSON.stringify({ error }), completedDate: Date.now() }).where('state', '=', 'Processing').where('nodeUuid', 'in', nodeUuids).executeTakeFirst();
    return Number(r.numUpdatedRows);
  }
}
