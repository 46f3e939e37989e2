import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { col, type Migration } from '../core/db/index.ts';

/**
 * Management nodes find each other through the database (ZStack's ManagementNodeVO): each node
 * writes its row and a heartbeat; peers are the rows whose heartbeat is fresh. A node whose
 * heartbeat is stale for long enough is fenced (its row deleted) and its resources re-hash to the
 * survivors, which take over its unfinished flows.
 */
export const membershipMigration: Migration = {
  id: '0003-management-nodes',
  async up(db) {
    await db.schema
      .createTable('management_node')
      .addColumn('uuid', col.uuid, (c) => c.primaryKey())
      .addColumn('hostName', 'varchar(255)', (c) => c.notNull())
      .addColumn('port', col.int, (c) => c.notNull())
      .addColumn('state', 'varchar(16)', (c) => c.notNull())
      .addColumn('joinDate', col.date, (c) => c.notNull())
      .addColumn('heartBeat', col.date, (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('management_setting')
      .addColumn('name', 'varchar(128)', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .execute();
  },
};

export interface NodeRow {
  uuid: string;
  hostName: string;
  port: number;
  state: string;
  heartBeat: number;
}

export class Membership {
  constructor(
    private readonly db: Kysely<any>,
    private readonly self: { uuid: string; hostName: string; port: number },
  ) {}

  /**
   * Writes this node's row. A row with this node's own address and port belongs to a previous life of
   * this node (only one process can listen there, and we just did): it is removed at once, so its
   * unfinished work is taken over now instead of after the heartbeat timeout. Returns the uuids removed.
   */
  async join(): Promise<string[]> {
    const now = Date.now();
    const previous = (await this.all()).filter((n) => n.uuid !== this.self.uuid && n.hostName === this.self.hostName && n.port === this.self.port).map((n) => n.uuid);
    if (previous.length) await this.db.deleteFrom('management_node').where('uuid', 'in', previous).execute();
    await this.db.insertInto('management_node').values({ ...this.self, state: 'RUNNING', joinDate: now, heartBeat: now }).execute();
    return previous;
  }

  /** Writes this node's heartbeat; false when the row is gone (another node fenced us). */
  async beat(): Promise<boolean> {
    const r = await this.db.updateTable('management_node').set({ heartBeat: Date.now() }).where('uuid', '=', this.self.uuid).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async leave(): Promise<void> {
    await this.db.deleteFrom('management_node').where('uuid', '=', this.self.uuid).execute();
  }

  async all(): Promise<NodeRow[]> {
    const rows = await this.db.selectFrom('management_node').select(['uuid', 'hostName', 'port', 'state', 'heartBeat']).execute();
    return rows.map((r) => ({ ...r, port: Number(r.port), heartBeat: Number(r.heartBeat) })) as NodeRow[];
  }

  /** Deletes rows whose heartbeat is older than `staleMs`; returns the fenced node uuids. */
  async fenceStale(staleMs: number, now = Date.now()): Promise<string[]> {
    const stale = (await this.all()).filter((n) => n.uuid !== this.self.uuid && now - n.heartBeat > staleMs).map((n) => n.uuid);
    if (stale.length) await this.db.deleteFrom('management_node').where('uuid', 'in', stale).execute();
    return stale;
  }

  /** The secret nodes present to each other on the internal bus endpoint; created by the first node. */
  async clusterToken(): Promise<string> {
    const existing = await this.db.selectFrom('management_setting').select('value').where('name', '=', 'bus.token').executeTakeFirst();
    if (existing) return existing.value;
    const token = randomBytes(32).toString('hex');
    try {
      await this.db.insertInto('management_setting').values({ name: 'bus.token', value: token }).execute();
      return token;
    } catch {
      const row = await this.db.selectFrom('management_setting').select('value').where('name', '=', 'bus.token').executeTakeFirstOrThrow();
      return row.value;
    }
  }
}
