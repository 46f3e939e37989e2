import type { ApiParams } from '../../core/api/define-api.ts';
import type { Message } from '../../core/bus/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { findRow, loadInventory } from '../../core/resource/resource-store.ts';
import type { CreateSystemTag, CreateUserTag, DeleteTag, UpdateSystemTag } from './apis.ts';
import { SystemTagInventory, UserTagInventory } from './schema.ts';

/** Tag operations run in the tagged resource's queue, like any change to that resource. */
export function tagHandlers(ctx: NodeContext) {
  const { db, inventories, systemTags, tags, queues } = ctx;

  /** The resource must exist: tags never dangle. The type is the VO name every inventory declares. */
  async function checkResource(resourceType: string, resourceUuid: string): Promise<void> {
    const inv = inventories.list().find((i) => i.resourceType === resourceType);
    if (!inv) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `unknown resourceType [${resourceType}]; known: ${[...new Set(inventories.list().map((i) => i.resourceType))].sort().join(', ')}`);
    if (!(await findRow(db, inv, resourceUuid))) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find ${resourceType.replace(/VO$/, '')}[uuid:${resourceUuid}]`);
  }

  const isAdmin = (msg: Message) => msg.caller?.accountType !== 'Normal';

  return {
    async CreateUserTag(msg: Message<ApiParams<typeof CreateUserTag>>) {
      const p = msg.body;
      return queues.submit(`tag-${p.resourceUuid}`, async () => {
        await checkResource(p.resourceType, p.resourceUuid);
        const row = await tags.create('user', { resourceUuid: p.resourceUuid, resourceType: p.resourceType, tag: p.tag });
        return loadInventory(db, UserTagInventory, row.uuid);
      });
    },

    async CreateSystemTag(msg: Message<ApiParams<typeof CreateSystemTag>>) {
      const p = msg.body;
      return queues.submit(`tag-${p.resourceUuid}`, async () => {
        await checkResource(p.resourceType, p.resourceUuid);
        systemTags.validate(p.resourceType, p.tag, { isAdmin: isAdmin(msg) });
        const row = await tags.create('system', { resourceUuid: p.resourceUuid, resourceType: p.resourceType, tag: p.tag });
        return loadInventory(db, SystemTagInventory, row.uuid);
      });
    },

    async UpdateSystemTag(msg: Message<ApiParams<typeof UpdateSystemTag>>) {
      const p = msg.body;
      const found = await tags.find(p.uuid);
      if (!found || found.kind !== 'system') throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find SystemTag[uuid:${p.uuid}]`);
      return queues.submit(`tag-${found.row.resourceUuid}`, async () => {
        if (Number(found.row.inherent)) throw new StratoError(SysErrors.OPERATION_ERROR, `system tag ${p.uuid} is inherent: it is managed by Strato and cannot be changed`);
        systemTags.validate(found.row.resourceType, p.tag, { isAdmin: isAdmin(msg) });
        await tags.updateSystemTag(p.uuid, p.tag);
        return loadInventory(db, SystemTagInventory, p.uuid);
      });
    },

    async DeleteTag(msg: Message<ApiParams<typeof DeleteTag>>) {
      const found = await tags.find(msg.body.uuid);
      if (!found) return {};
      if (found.kind === 'system' && Number(found.row.inherent)) throw new StratoError(SysErrors.OPERATION_ERROR, `system tag ${msg.body.uuid} is inherent: it is managed by Strato and cannot be deleted`);
      await queues.submit(`tag-${found.row.resourceUuid}`, () => tags.delete(msg.body.uuid));
      return {};
    },
  };
}
