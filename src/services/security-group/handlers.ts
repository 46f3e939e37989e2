import { SecurityGroupEvents, SecurityGroupMembershipPoint, type SecurityGroupRulesChangedEvent } from '../../contracts/security-group.ts';
import type { ApiParams } from '../../core/api/define-api.ts';
import type { Message } from '../../core/bus/index.ts';
import { isUniqueViolation } from '../../core/db/unique-violation.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { rowToInventory } from '../../core/query/inventory.ts';
import { findRow, loadInventory, notFound, patchRow, stateAfter } from '../../core/resource/resource-store.ts';
import { newUuid } from '../../core/util/uuid.ts';
import type { AddSecurityGroupRule, AttachSecurityGroupToL3Network, ChangeSecurityGroupState, CreateSecurityGroup, DeleteSecurityGroup, DeleteSecurityGroupRule, DetachSecurityGroupFromL3Network, UpdateSecurityGroup } from './apis.ts';
import { createSecurityGroupChain } from './flows/create-security-group-chain.ts';
import type { CreateSecurityGroupCtx } from './flows/persist-security-group.ts';
import { removeNicsOfL3 } from './membership.ts';
import { checkDuplicates, normalizeRule, type NormalizedRule } from './rule-validation.ts';
import { SecurityGroupInventory, SecurityGroupRuleInventory } from './schema.ts';

/** Every change to a group (rules, attachments, members) runs in its queue. */
export const sgQueue = (uuid: string) => `security-group-${uuid}`;

/** The group as ZStack's SecurityGroupInventory shows it in replies: with `rules` and `attachedL3NetworkUuids`. */
export async function fullSecurityGroup(ctx: NodeContext, uuid: string): Promise<Record<string, unknown>> {
  const { db } = ctx;
  const sg = await loadInventory(db, SecurityGroupInventory, uuid);
  const rules = await db.selectFrom('security_group_rule').selectAll().where('securityGroupUuid', '=', uuid).orderBy('createDate').orderBy('uuid').execute();
  const refs = await db.selectFrom('security_group_l3_ref').select('l3NetworkUuid').where('securityGroupUuid', '=', uuid).execute();
  return { ...sg, rules: rules.map((r) => rowToInventory(SecurityGroupRuleInventory, r)), attachedL3NetworkUuids: refs.map((r) => r.l3NetworkUuid as string) };
}

export function securityGroupHandlers(ctx: NodeContext) {
  const { db, queues, bus, cascade } = ctx;
  const requireGroup = async (uuid: string) => {
    const row = await findRow(db, SecurityGroupInventory, uuid);
    if (!row) throw notFound(SecurityGroupInventory, uuid);
    return row;
  };
  const rulesChanged = async (e: SecurityGroupRulesChangedEvent) => {
    await ctx.extensions.callSafe(SecurityGroupMembershipPoint, 'afterRulesChanged', e);
    void bus.publish(SecurityGroupEvents.rulesChanged, e);
  };

  return {
    async CreateSecurityGroup(msg: Message<ApiParams<typeof CreateSecurityGroup>>) {
      const p = msg.body;
      const uuid = p.resourceUuid ?? newUuid();
      if (p.resourceUuid && (await findRow(db, SecurityGroupInventory, uuid))) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `a security group with uuid ${uuid} already exists`);
      const flowCtx: CreateSecurityGroupCtx = { uuid, name: p.name, description: p.description, ipVersion: p.ipVersion ?? 4, systemTags: p.systemTags, userTags: p.userTags };
      await queues.submit(sgQueue(uuid), () => ctx.flowEngine.run(createSecurityGroupChain, flowCtx, { resourceUuid: uuid }));
      return fullSecurityGroup(ctx, uuid);
    },

    async UpdateSecurityGroup(msg: Message<ApiParams<typeof UpdateSecurityGroup>>) {
      const p = msg.body;
      return queues.submit(sgQueue(p.uuid), async () => {
        await patchRow(db, SecurityGroupInventory, p.uuid, { name: p.name, description: p.description });
        return fullSecurityGroup(ctx, p.uuid);
      });
    },

    async ChangeSecurityGroupState(msg: Message<ApiParams<typeof ChangeSecurityGroupState>>) {
      const p = msg.body;
      return queues.submit(sgQueue(p.uuid), async () => {
        const before = await requireGroup(p.uuid);
        await patchRow(db, SecurityGroupInventory, p.uuid, { state: stateAfter(p.stateEvent) });
        if (before.state !== stateAfter(p.stateEvent)) await rulesChanged({ securityGroupUuid: p.uuid, addedRuleUuids: [], deletedRuleUuids: [], reason: 'stateChanged' });
        return fullSecurityGroup(ctx, p.uuid);
      });
    },

    async DeleteSecurityGroup(msg: Message<ApiParams<typeof DeleteSecurityGroup>>) {
      const p = msg.body;
      if (!(await findRow(db, SecurityGroupInventory, p.uuid))) return {};
      const mode = p.deleteMode ?? 'Permissive';
      const result = await cascade.delete({ resource: 'SecurityGroupVO', uuids: [p.uuid], mode });
      if (result.errors.length && mode === 'Permissive') throw new StratoError(SysErrors.DELETE_RESOURCE_ERROR, `failed to delete security group ${p.uuid}`, { cause: result.errors[0].error });
      return {};
    },

    async AddSecurityGroupRule(msg: Message<ApiParams<typeof AddSecurityGroupRule>>) {
      const p = msg.body;
      return queues.submit(sgQueue(p.securityGroupUuid), async () => {
        const group = await requireGroup(p.securityGroupUuid);
        const rules = p.rules.map((r, i) => normalizeRule(r, i, Number(group.ipVersion)));
        for (const [i, r] of rules.entries()) {
          if (r.remoteSecurityGroupUuid && r.remoteSecurityGroupUuid !== p.securityGroupUuid && !(await findRow(db, SecurityGroupInventory, r.remoteSecurityGroupUuid))) {
            throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `rules[${i}]: unable to find the remote SecurityGroup[uuid:${r.remoteSecurityGroupUuid}]`);
          }
        }
        const existing = (await db.selectFrom('security_group_rule').selectAll().where('securityGroupUuid', '=', p.securityGroupUuid).execute()) as unknown as NormalizedRule[];
        checkDuplicates(rules, existing.map((r) => ({ ...r, startPort: Number(r.startPort), endPort: Number(r.endPort), ipVersion: Number(r.ipVersion) })));
        const now = Date.now();
        const rows = rules.map((r) => ({ uuid: newUuid(), securityGroupUuid: p.securityGroupUuid, priority: 1, ...r, createDate: now, lastOpDate: now }));
        await db.insertInto('security_group_rule').values(rows).execute();
        await rulesChanged({ securityGroupUuid: p.securityGroupUuid, addedRuleUuids: rows.map((r) => r.uuid), deletedRuleUuids: [], reason: 'rulesAdded' });
        return fullSecurityGroup(ctx, p.securityGroupUuid);
      });
    },

    async DeleteSecurityGroupRule(msg: Message<ApiParams<typeof DeleteSecurityGroupRule>>) {
      const p = msg.body;
      const found = await db.selectFrom('security_group_rule').select(['uuid', 'securityGroupUuid']).where('uuid', 'in', p.ruleUuids).execute();
      const groups = [...new Set(found.map((r) => r.securityGroupUuid as string))];
      if (groups.length > 1) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `the rules belong to ${groups.length} security groups (${groups.join(', ')}); delete the rules of one group at a time`);
      if (groups.length === 0) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find SecurityGroupRule[uuid:${p.ruleUuids.join(',')}]`);
      const sgUuid = groups[0];
      return queues.submit(sgQueue(sgUuid), async () => {
        const uuids = found.map((r) => r.uuid as string);
        await db.deleteFrom('security_group_rule').where('uuid', 'in', uuids).execute();
        await rulesChanged({ securityGroupUuid: sgUuid, addedRuleUuids: [], deletedRuleUuids: uuids, reason: 'rulesDeleted' });
        return fullSecurityGroup(ctx, sgUuid);
      });
    },

    async AttachSecurityGroupToL3Network(msg: Message<ApiParams<typeof AttachSecurityGroupToL3Network>>) {
      const p = msg.body;
      return queues.submit(sgQueue(p.securityGroupUuid), async () => {
        await requireGroup(p.securityGroupUuid);
        const l3 = await db.selectFrom('l3_network').select('uuid').where('uuid', '=', p.l3NetworkUuid).executeTakeFirst();
        if (!l3) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find L3Network[uuid:${p.l3NetworkUuid}]`);
        const service = await db.selectFrom('network_service_l3_ref').select('id').where('l3NetworkUuid', '=', p.l3NetworkUuid).where('networkServiceType', '=', 'SecurityGroup').executeTakeFirst();
        if (!service) throw new StratoError(SysErrors.OPERATION_ERROR, `the L3 network[uuid:${p.l3NetworkUuid}] has no network service of type SecurityGroup: attach it first`);
        const now = Date.now();
        try {
          await db.insertInto('security_group_l3_ref').values({ uuid: newUuid(), securityGroupUuid: p.securityGroupUuid, l3NetworkUuid: p.l3NetworkUuid, createDate: now, lastOpDate: now }).execute();
        } catch (e) {
          if (!isUniqueViolation(e)) throw e;
          throw new StratoError(SysErrors.OPERATION_ERROR, `the security group[uuid:${p.securityGroupUuid}] is already attached to the L3 network[uuid:${p.l3NetworkUuid}]`);
        }
        return fullSecurityGroup(ctx, p.securityGroupUuid);
      });
    },

    async DetachSecurityGroupFromL3Network(msg: Message<ApiParams<typeof DetachSecurityGroupFromL3Network>>) {
      const p = msg.body;
      return queues.submit(sgQueue(p.securityGroupUuid), async () => {
        await requireGroup(p.securityGroupUuid);
        const r = await db.deleteFrom('security_group_l3_ref').where('securityGroupUuid', '=', p.securityGroupUuid).where('l3NetworkUuid', '=', p.l3NetworkUuid).executeTakeFirst();
        if (Number(r.numDeletedRows) === 0) {
          if (!(await db.selectFrom('l3_network').select('uuid').where('uuid', '=', p.l3NetworkUuid).executeTakeFirst())) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find L3Network[uuid:${p.l3NetworkUuid}]`);
          throw new StratoError(SysErrors.OPERATION_ERROR, `the security group[uuid:${p.securityGroupUuid}] is not attached to the L3 network[uuid:${p.l3NetworkUuid}]`);
        }
        await removeNicsOfL3(ctx, [{ securityGroupUuid: p.securityGroupUuid, l3NetworkUuid: p.l3NetworkUuid }]);
        return fullSecurityGroup(ctx, p.securityGroupUuid);
      });
    },
  };
}
