import { SecurityGroupEvents, SecurityGroupMembershipPoint, SecurityGroupMessages, type AddVmNicsToSecurityGroupRequest, type RemoveVmNicsFromSecurityGroupRequest } from '../../contracts/security-group.ts';
import type { Message } from '../../core/bus/index.ts';
import { isUniqueViolation } from '../../core/db/unique-violation.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { findRow, notFound } from '../../core/resource/resource-store.ts';
import { newUuid } from '../../core/util/uuid.ts';
import { SecurityGroupInventory } from './schema.ts';

const queueOf = (uuid: string) => `security-group-${uuid}`;

/** Removes the member NICs of (group, L3 network) pairs and tells the membership observers. */
export async function removeNicsOfL3(ctx: NodeContext, pairs: Array<{ securityGroupUuid: string; l3NetworkUuid: string }>): Promise<void> {
  for (const { securityGroupUuid, l3NetworkUuid } of pairs) {
    const nics = await ctx.db.selectFrom('vm_nic_security_group_ref').select('vmNicUuid').where('securityGroupUuid', '=', securityGroupUuid).where('l3NetworkUuid', '=', l3NetworkUuid).execute();
    if (!nics.length) continue;
    const vmNicUuids = nics.map((n) => n.vmNicUuid as string);
    await ctx.db.deleteFrom('vm_nic_security_group_ref').where('securityGroupUuid', '=', securityGroupUuid).where('vmNicUuid', 'in', vmNicUuids).execute();
    await ctx.extensions.callSafe(SecurityGroupMembershipPoint, 'afterNicsRemoved', securityGroupUuid, vmNicUuids);
    void ctx.bus.publish(SecurityGroupEvents.membershipChanged, { securityGroupUuid, addedVmNicUuids: [], removedVmNicUuids: vmNicUuids });
  }
}

/**
 * NIC membership for the VM service (it owns the NICs and will expose ZStack's AddVmNicToSecurityGroup
 * and DeleteVmNicFromSecurityGroup APIs): `securityGroup.AddVmNics` / `securityGroup.RemoveVmNics`.
 */
export function membershipHandlers(ctx: NodeContext) {
  const { db, queues, bus, extensions } = ctx;

  async function remove(securityGroupUuid: string, vmNicUuids: string[]): Promise<string[]> {
    const present = (await db.selectFrom('vm_nic_security_group_ref').select('vmNicUuid').where('securityGroupUuid', '=', securityGroupUuid).where('vmNicUuid', 'in', vmNicUuids).execute()).map((r) => r.vmNicUuid as string);
    if (!present.length) return [];
    await db.deleteFrom('vm_nic_security_group_ref').where('securityGroupUuid', '=', securityGroupUuid).where('vmNicUuid', 'in', present).execute();
    await extensions.callSafe(SecurityGroupMembershipPoint, 'afterNicsRemoved', securityGroupUuid, present);
    void bus.publish(SecurityGroupEvents.membershipChanged, { securityGroupUuid, addedVmNicUuids: [], removedVmNicUuids: present });
    return present;
  }

  return {
    async [SecurityGroupMessages.addVmNics](msg: Message<AddVmNicsToSecurityGroupRequest>) {
      const { securityGroupUuid, nics } = msg.body;
      return queues.submit(queueOf(securityGroupUuid), async () => {
        const group = await findRow(db, SecurityGroupInventory, securityGroupUuid);
        if (!group) throw notFound(SecurityGroupInventory, securityGroupUuid);
        if (group.state !== 'Enabled') throw new StratoError(SysErrors.OPERATION_ERROR, `the security group[uuid:${securityGroupUuid}] is ${group.state}`);
        const attached = new Set((await db.selectFrom('security_group_l3_ref').select('l3NetworkUuid').where('securityGroupUuid', '=', securityGroupUuid).execute()).map((r) => r.l3NetworkUuid as string));
        const off = nics.filter((n) => !attached.has(n.l3NetworkUuid));
        if (off.length) throw new StratoError(SysErrors.OPERATION_ERROR, `the security group[uuid:${securityGroupUuid}] is not attached to the L3 networks of the NICs ${off.map((n) => `${n.vmNicUuid} (L3 ${n.l3NetworkUuid})`).join(', ')}`);
        const added = [];
        const now = Date.now();
        for (const n of nics) {
          try {
            await db.insertInto('vm_nic_security_group_ref').values({ uuid: newUuid(), securityGroupUuid, vmNicUuid: n.vmNicUuid, vmInstanceUuid: n.vmInstanceUuid, l3NetworkUuid: n.l3NetworkUuid, priority: 1, createDate: now, lastOpDate: now }).execute();
            added.push(n);
          } catch (e) {
            if (!isUniqueViolation(e)) throw e; // already a member: nothing to do
          }
        }
        if (added.length) {
          await extensions.callSafe(SecurityGroupMembershipPoint, 'afterNicsAdded', securityGroupUuid, added);
          void bus.publish(SecurityGroupEvents.membershipChanged, { securityGroupUuid, addedVmNicUuids: added.map((n) => n.vmNicUuid), removedVmNicUuids: [] });
        }
        return { addedVmNicUuids: added.map((n) => n.vmNicUuid) };
      });
    },

    async [SecurityGroupMessages.removeVmNics](msg: Message<RemoveVmNicsFromSecurityGroupRequest>) {
      const { securityGroupUuid, vmNicUuids } = msg.body;
      if (!vmNicUuids.length) return { removedVmNicUuids: [] };
      const groups = securityGroupUuid
        ? [securityGroupUuid]
        : [...new Set((await db.selectFrom('vm_nic_security_group_ref').select('securityGroupUuid').where('vmNicUuid', 'in', vmNicUuids).execute()).map((r) => r.securityGroupUuid as string))];
      const removed: string[] = [];
      for (const g of groups) removed.push(...(await queues.submit(queueOf(g), () => remove(g, vmNicUuids))));
      return { removedVmNicUuids: [...new Set(removed)] };
    },
  };
}
