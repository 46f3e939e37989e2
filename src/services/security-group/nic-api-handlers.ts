import { SecurityGroupMessages, type SecurityGroupMemberNic } from '../../contracts/security-group.ts';
import type { ApiParams } from '../../core/api/define-api.ts';
import type { Message } from '../../core/bus/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import { findRow, notFound } from '../../core/resource/resource-store.ts';
import type { AddVmNicToSecurityGroup, DeleteVmNicFromSecurityGroup } from './nic-apis.ts';
import { SecurityGroupInventory } from './schema.ts';

/**
 * ZStack's AddVmNicToSecurityGroup and DeleteVmNicFromSecurityGroup: every NIC named must exist (read
 * from the VM service's `vm_nic`), then the membership messages do the work in the group's queue.
 */
export function nicApiHandlers(ctx: NodeContext) {
  const { db, bus } = ctx;

  async function resolve(securityGroupUuid: string, vmNicUuids: string[]): Promise<SecurityGroupMemberNic[]> {
    if (!(await findRow(db, SecurityGroupInventory, securityGroupUuid))) throw notFound(SecurityGroupInventory, securityGroupUuid);
    const uuids = [...new Set(vmNicUuids)];
    const rows = await db.selectFrom('vm_nic').select(['uuid', 'vmInstanceUuid', 'l3NetworkUuid']).where('uuid', 'in', uuids).execute();
    const missing = uuids.filter((u) => !rows.some((r) => r.uuid === u));
    if (missing.length) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find VmNic[uuid:${missing.join(', ')}]`);
    return rows.map((r) => ({ vmNicUuid: r.uuid as string, vmInstanceUuid: r.vmInstanceUuid as string, l3NetworkUuid: r.l3NetworkUuid as string }));
  }

  return {
    async AddVmNicToSecurityGroup(msg: Message<ApiParams<typeof AddVmNicToSecurityGroup>>) {
      const { securityGroupUuid, vmNicUuids } = msg.body;
      const nics = await resolve(securityGroupUuid, vmNicUuids);
      await bus.call('securityGroup', SecurityGroupMessages.addVmNics, { securityGroupUuid, nics }, { resourceUuid: securityGroupUuid });
      return {};
    },

    async DeleteVmNicFromSecurityGroup(msg: Message<ApiParams<typeof DeleteVmNicFromSecurityGroup>>) {
      const { securityGroupUuid, vmNicUuids } = msg.body;
      await resolve(securityGroupUuid, vmNicUuids);
      await bus.call('securityGroup', SecurityGroupMessages.removeVmNics, { securityGroupUuid, vmNicUuids: [...new Set(vmNicUuids)] }, { resourceUuid: securityGroupUuid });
      return {};
    },
  };
}
