import { sql, type Kysely } from 'kysely';
import { col, withDates, type Migration } from '../db/index.ts';
import { StratoError, SysErrors } from '../errors/index.ts';
import { newUuid } from '../util/uuid.ts';
import type { SystemTagPattern } from './system-tag-pattern.ts';

export const tagMigration: Migration = {
  id: '0001-core-tags',
  async up(db, kind) {
    for (const table of ['system_tag', 'user_tag']) {
      let t = db.schema
        .createTable(table)
        .addColumn('uuid', col.uuid, (c) => c.primaryKey())
        .addColumn('resourceUuid', col.uuid, (c) => c.notNull())
        .addColumn('resourceType', 'varchar(64)', (c) => c.notNull())
        .addColumn('tag', 'varchar(2048)', (c) => c.notNull())
        .addColumn('type', 'varchar(32)', (c) => c.notNull().defaultTo('System'));
      if (table === 'system_tag') t = t.addColumn('inherent', col.bool, (c) => c.notNull().defaultTo(false));
      else t = t.addColumn('tagPatternUuid', col.uuid);
      await withDates(t).execute();
      await db.schema.createIndex(`idx_${table}_resource`).on(table).columns(['resourceUuid', 'resourceType']).execute();
      // Tag conditions (`__systemTag__=…`, `LIKE 'x::%'`) search by tag text; MariaDB indexes a prefix of long varchars.
      if (kind === 'mysql') await sql`CREATE INDEX ${sql.raw(`idx_${table}_tag`)} ON ${sql.table(table)} (tag(191))`.execute(db);
      else await db.schema.createIndex(`idx_${table}_tag`).on(table).column('tag').execute();
    }
  },
};

export type TagKind = 'system' | 'user';

export interface TagRow {
  uuid: string;
  resourceUuid: string;
  resourceType: string;
  tag: string;
  type: string;
  inherent?: boolean | number;
  createDate: number;
  lastOpDate: number;
}

/** Tag rows; callers validate system tags against the SystemTagRegistry before writing. */
export class TagStore {
  constructor(private readonly db: Kysely<any>) {}

  async create(kind: TagKind, input: { resourceUuid: string; resourceType: string; tag: string; inherent?: boolean; uuid?: string }, db: Kysely<any> = this.db): Promise<TagRow> {
    const now = Date.now();
    const row: TagRow = { uuid: input.uuid ?? newUuid(), resourceUuid: input.resourceUuid, resourceType: input.resourceType, tag: input.tag, type: kind === 'system' ? 'System' : 'User', createDate: now, lastOpDate: now };
    if (kind === 'system') row.inherent = input.inherent ?? false;
    await db.insertInto(table(kind)).values(row).execute();
    return row;
  }

  /** Creates the `systemTags`/`userTags` of a create API for the new resource, skipping duplicates. */
  async createFromApi(params: { systemTags?: string[]; userTags?: string[] }, resourceUuid: string, resourceType: string, db: Kysely<any> = this.db): Promise<void> {
    for (const tag of new Set(params.systemTags ?? [])) await this.create('system', { resourceUuid, resourceType, tag }, db);
    for (const tag of new Set(params.userTags ?? [])) await this.create('user', { resourceUuid, resourceType, tag }, db);
  }

  async find(uuid: string): Promise<{ kind: TagKind; row: TagRow } | undefined> {
    for (const kind of ['system', 'user'] as const) {
      const row = await this.db.selectFrom(table(kind)).selectAll().where('uuid', '=', uuid).executeTakeFirst();
      if (row) return { kind, row: row as TagRow };
    }
    return undefined;
  }

  async updateSystemTag(uuid: string, tag: string): Promise<TagRow> {
    const r = await this.db.updateTable('system_tag').set({ tag, lastOpDate: Date.now() }).where('uuid', '=', uuid).executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `no system tag ${uuid}`);
    return (await this.db.selectFrom('system_tag').selectAll().where('uuid', '=', uuid).executeTakeFirstOrThrow()) as TagRow;
  }

  async delete(uuid: string): Promise<boolean> {
    let n = 0;
    for (const kind of ['system', 'user'] as const) n += Number((await this.db.deleteFrom(table(kind)).where('uuid', '=', uuid).executeTakeFirst()).numDeletedRows);
    return n > 0;
  }

  /** Removes every tag of the given resources (called when they are deleted). */
  async deleteForResources(resourceUuids: readonly string[], db: Kysely<any> = this.db): Promise<void> {
    if (resourceUuids.length === 0) return;
    for (const kind of ['system', 'user'] as const) await db.deleteFrom(table(kind)).where('resourceUuid', 'in', resourceUuids).execute();
  }

  /** The system tags of a resource having a pattern's shape, with their tokens. */
  async systemTagsOf(resourceUuid: string, pattern: SystemTagPattern): Promise<Array<Record<string, string>>> {
    const rows = await this.db.selectFrom('system_tag').select('tag').where('resourceUuid', '=', resourceUuid).where('resourceType', '=', pattern.def.resourceType).execute();
    return rows.map((r) => pattern.parse(r.tag)).filter((t): t is Record<string, string> => t !== undefined);
  }
}

function table(kind: TagKind): string {
  return kind === 'system' ? 'system_tag' : 'user_tag';
}
