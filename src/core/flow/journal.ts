import { CompiledQuery, sql, type Kysely } from 'kysely';
import type { ErrorCode } from '../errors/index.ts';
import { col, type Migration } from '../db/index.ts';
import { WriteBatcher } from './write-batcher.ts';

export type FlowState = 'Running' | 'Done' | 'RolledBack' | 'RollbackFailed';

/** One journaled chain run, as stored in `flow_journal`. */
export interface FlowJournalEntry {
  id: string;
  chainName: string;
  resourceUuid: string | null;
  /** The management node running (or rolling back) the flow. */
  nodeUuid: string;
  state: FlowState;
  /** The context as JSON text, as of the last completed step (or checkpoint). */
  ctx: string;
  /** Paths of the steps that completed, in run order. */
  executed: string[];
  error: ErrorCode | null;
  createDate: number;
  lastOpDate: number;
}

export const FLOW_JOURNAL_TABLE = 'flow_journal';

/** Creates `flow_journal`; part of the core migrations the node bootstrap runs. */
export const flowJournalMigration: Migration = {
  id: '0001-core-flow-journal',
  async up(db, kind) {
    // MariaDB's TEXT stops at 64 KiB; a context may grow past that.
    const big = kind === 'mysql' ? sql`mediumtext` : sql.raw(col.text);
    await db.schema
      .createTable(FLOW_JOURNAL_TABLE)
      .addColumn('id', col.uuid, (c) => c.primaryKey())
      .addColumn('chainName', col.name, (c) => c.notNull())
      .addColumn('resourceUuid', col.uuid)
      .addColumn('nodeUuid', col.uuid, (c) => c.notNull())
      .addColumn('state', 'varchar(32)', (c) => c.notNull())
      .addColumn('ctx', big, (c) => c.notNull())
      .addColumn('executed', big, (c) => c.notNull())
      .addColumn('error', big)
      .addColumn('createDate', col.date, (c) => c.notNull())
      .addColumn('lastOpDate', col.date, (c) => c.notNull())
      .execute();
    await db.schema.createIndex('idx_flow_journal_state_node').on(FLOW_JOURNAL_TABLE).columns(['state', 'nodeUuid']).execute();
  },
};

/** Every migration the flow engine needs, for the node bootstrap's list. */
export const flowMigrations: readonly Migration[] = [flowJournalMigration];

// Hand-written SQL, valid on SQLite and MariaDB alike (both accept back-quoted identifiers): the journal
// sits on the hot path of every flow (one insert, one update per step, one final update), and skipping
// Kysely's query building keeps those writes to the driver's own cost.
const T = '`flow_journal`';
const SQL = {
  insert: `insert into ${T} (\`id\`, \`chainName\`, \`resourceUuid\`, \`nodeUuid\`, \`state\`, \`ctx\`, \`executed\`, \`error\`, \`createDate\`, \`lastOpDate\`) values (?, ?, ?, ?, 'Running', ?, '[]', null, ?, ?)`,
  progress: `update ${T} set \`ctx\` = ?, \`executed\` = ?, \`lastOpDate\` = ? where \`id\` = ? and \`nodeUuid\` = ? and \`state\` = 'Running'`,
  finish: `update ${T} set \`state\` = ?, \`ctx\` = ?, \`executed\` = ?, \`error\` = ?, \`lastOpDate\` = ? where \`id\` = ? and \`nodeUuid\` = ? and \`state\` = 'Running'`,
  claim: `update ${T} set \`nodeUuid\` = ?, \`lastOpDate\` = ? where \`id\` = ? and \`nodeUuid\` = ? and \`lastOpDate\` = ? and \`state\` = 'Running'`,
  running: `select * from ${T} where \`state\` = 'Running'`,
  runningOf: `select * from ${T} where \`state\` = 'Running' and \`nodeUuid\` = ?`,
  byId: `select * from ${T} where \`id\` = ?`,
  prune: `delete from ${T} where \`state\` in ('Done', 'RolledBack') and \`lastOpDate\` < ?`,
};

/**
 * Reads and writes `flow_journal`. Writes that change a Running row are conditional on the row still
 * belonging to the writer (`nodeUuid`) and still Running: a node that another node has fenced and taken
 * over learns so on its next write (the method returns false) instead of overwriting the takeover.
 */
export class FlowJournal {
  readonly #batcher?: WriteBatcher;

  /** `groupCommit`: share commits between concurrent flows (worth it on SQLite, whose single writer serializes commits). */
  constructor(readonly db: Kysely<any>, opts: { groupCommit?: boolean } = {}) {
    if (opts.groupCommit) this.#batcher = new WriteBatcher(db);
  }

  async start(e: { id: string; chainName: string; resourceUuid: string | null; nodeUuid: string; ctx: string; now: number }): Promise<void> {
    await this.#exec(SQL.insert, [e.id, e.chainName, e.resourceUuid, e.nodeUuid, e.ctx, e.now, e.now]);
  }

  /** Record a completed step (or a checkpoint). False when the row is no longer ours. */
  async progress(id: string, nodeUuid: string, ctx: string, executed: string, now: number): Promise<boolean> {
    return (await this.#exec(SQL.progress, [ctx, executed, now, id, nodeUuid])) === 1;
  }

  async finish(id: string, nodeUuid: string, state: Exclude<FlowState, 'Running'>, ctx: string, executed: string, error: ErrorCode | null, now: number): Promise<boolean> {
    return (await this.#exec(SQL.finish, [state, ctx, executed, error ? JSON.stringify(error) : null, now, id, nodeUuid])) === 1;
  }

  /**
   * Take over a Running row for recovery. The row's lastOpDate is the claim token, so of two nodes
   * recovering at once only one wins, and a flow still making progress is never claimed.
   */
  async claim(e: FlowJournalEntry, claimAs: string, now: number): Promise<FlowJournalEntry | undefined> {
    const stamp = Math.max(now, e.lastOpDate + 1);
    const n = await this.#exec(SQL.claim, [claimAs, stamp, e.id, e.nodeUuid, e.lastOpDate]);
    return n === 1 ? { ...e, nodeUuid: claimAs, lastOpDate: stamp } : undefined;
  }

  async running(nodeUuid?: string): Promise<FlowJournalEntry[]> {
    const r = nodeUuid === undefined ? await this.db.executeQuery(CompiledQuery.raw(SQL.running)) : await this.db.executeQuery(CompiledQuery.raw(SQL.runningOf, [nodeUuid]));
    return r.rows.map(toEntry);
  }

  async get(id: string): Promise<FlowJournalEntry | undefined> {
    const r = await this.db.executeQuery(CompiledQuery.raw(SQL.byId, [id]));
    return r.rows[0] ? toEntry(r.rows[0]) : undefined;
  }

  /** Delete finished rows (Done, RolledBack) last touched before `before` (epoch ms). RollbackFailed rows stay for an operator. */
  async prune(before: number): Promise<number> {
    return this.#exec(SQL.prune, [before]);
  }

  async #exec(sql: string, params: unknown[]): Promise<number> {
    if (this.#batcher) return this.#batcher.exec(sql, params);
    const r = await this.db.executeQuery(CompiledQuery.raw(sql, params));
    return Number(r.numAffectedRows ?? 0n);
  }
}

function toEntry(row: any): FlowJournalEntry {
  return {
    id: row.id,
    chainName: row.chainName,
    resourceUuid: row.resourceUuid ?? null,
    nodeUuid: row.nodeUuid,
    state: row.state,
    ctx: row.ctx,
    executed: JSON.parse(row.executed),
    error: row.error ? JSON.parse(row.error) : null,
    createDate: Number(row.createDate),
    lastOpDate: Number(row.lastOpDate),
  };
}
