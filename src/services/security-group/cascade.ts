import { SecurityGroupEvents, SecurityGroupMembershipPoint, SecurityGroupMessages, type SecurityGroupRulesChangedEvent } from '../../contracts/security-group.ts';
import type { Message } from '../../core/bus/index.ts';
import type { CascadeEntry } from '../../core/cascade/index.ts';
import { StratoError } from '../../core/errors/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { findRow } from '../../core/resource/resource-store.ts';
import { sgQueue } from './handlers.ts';
import { removeNicsOfL3 } from './membership.ts';
import { SecurityGroupInventory } from './schema.ts';

/** Security groups have no parent: they go only by DeleteSecurityGroup. */
export function securityGroupCascadeEntry(ctx: NodeContext): CascadeEntry {
  return {
    resource: 'SecurityGroupVO',
    parents: [],
    async delete(uuids, { force }) {
      const results = await Promise.all(uuids.map((uuid) => ctx.bus.send('securityGroup', SecurityGroupMessages.delete, { uuid }, { resourceUuid: uuid })));
      const failed = results.find((r) => !r.success);
      if (failed && !failed.success && !force) throw new StratoError(failed.error);
    },
  };
}

/** A group's attachment to an L3 network goes with the L3 network (and the NICs of that network leave the group). */
export function securityGroupL3RefCascadeEntry(ctx: NodeContext): CascadeEntry {
  const { db } = ctx;
  return {
    resource: 'SecurityGroupL3NetworkRefVO',
    parents: ['L3NetworkVO'],
    async children(_parent, l3Uuids) {
      return (await db.selectFrom('security_group_l3_ref').select('uuid').where('l3NetworkUuid', 'in', l3Uuids).execute()).map((r) => r.uuid as string);
    },
    async delete(uuids) {
      const refs = await db.selectFrom('security_group_l3_ref').select(['securityGroupUuid', 'l3NetworkUuid']).where('uuid', 'in', uuids).execute();
      await db.deleteFrom('security_group_l3_ref').where('uuid', 'in', uuids).execute();
      await removeNicsOfL3(ctx, refs as Array<{ securityGroupUuid: string; l3NetworkUuid: string }>);
    },
  };
}

/**
 * `securityGroup.Delete`: the group, its rules, attachments, memberships and tags, in its queue; rules of
 * other groups naming it as their remote group are deleted too (ZStack does the same), and every
 * group whose rules changed is announced.
 */
export function securityGroupDeleteHandler(ctx: NodeContext) {
  const { db, queues, tags, bus } = ctx;
  return async (msg: Message<{ uuid: string }>) =>
    queues.submit(sgQueue(msg.body.uuid), async () => {
      const uuid = msg.body.uuid;
      if (!(await findRow(db, SecurityGroupInventory, uuid))) return {};
      const own = (await db.selectFrom('security_group_rule').select('uuid').where('securityGroupUuid', '=', uuid).execute()).map((r) => r.uuid as string);
      const remote = await db.selectFrom('security_group_rule').select(['uuid', 'securityGroupUuid']).where('remoteSecurityGroupUuid', '=', uuid).where('securityGroupUuid', '!=', uuid).execute();
      const nics = (await db.selectFrom('vm_nic_security_group_ref').select('vmNicUuid').where('securityGroupUuid', '=', uuid).execute()).map((r) => r.vmNicUuid as string);
      await db.transaction().execute(async (tx) => {
        await tx.deleteFrom('security_group_rule').where('securityGroupUuid', '=', uuid).execute();
        await tx.deleteFrom('security_group_rule').where('remoteSecurityGroupUuid', '=', uuid).execute();
        await tx.deleteFrom('security_group_l3_ref').where('securityGroupUuid', '=', uuid).execute();
        await tx.deleteFrom('vm_nic_security_group_ref').where('securityGroupUuid', '=', uuid).execute();
        await tx.deleteFrom('security_group').where('uuid', '=', uuid).execute();
        await tags.deleteForResources([uuid], tx);
      });
      if (nics.length) await ctx.extensions.callSafe(SecurityGroupMembershipPoint, 'afterNicsRemoved', uuid, nics);
      void bus.publish(SecurityGroupEvents.rulesChanged, { securityGroupUuid: uuid, addedRuleUuids: [], deletedRuleUuids: own, reason: 'groupDeleted' });
      const byGroup = new Map<string, string[]>();
      for (const r of remote) byGroup.set(r.securityGroupUuid as string, [...(byGroup.get(r.securityGroupUuid as string) ?? []), r.uuid as string]);
      for (const [other, deleted] of byGroup) {
        const e: SecurityGroupRulesChangedEvent = { securityGroupUuid: other, addedRuleUuids: [], deletedRuleUuids: deleted, reason: 'remoteGroupDeleted' };
        await ctx.extensions.callSafe(SecurityGroupMembershipPoint, 'afterRulesChanged', e);
        void bus.publish(SecurityGroupEvents.rulesChanged, e);
      }
      return {};
    });
}
