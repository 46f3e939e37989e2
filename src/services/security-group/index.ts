import { SecurityGroupMessages } from '../../contracts/security-group.ts';
import { serviceFromHandlers } from '../../core/bus/index.ts';
import type { ServiceModule } from '../../core/node-context.ts';
import { securityGroupApis } from './apis.ts';
import { securityGroupCascadeEntry, securityGroupDeleteHandler, securityGroupL3RefCascadeEntry } from './cascade.ts';
import { createSecurityGroupChain } from './flows/create-security-group-chain.ts';
import { securityGroupHandlers } from './handlers.ts';
import { membershipHandlers } from './membership.ts';
import { nicApiHandlers } from './nic-api-handlers.ts';
import { securityGroupInventories, securityGroupMigration } from './schema.ts';

/**
 * Security groups (control plane): groups with ZStack's default rules, validated rules, L3
 * attachments, and NIC membership through messages the VM service will use. Every rule change is
 * published as `securityGroup.rulesChanged` for host-side backends.
 */
export const securityGroupService: ServiceModule = {
  id: 'securityGroup',
  migrations: [securityGroupMigration],
  inventories: securityGroupInventories,
  apis: securityGroupApis,
  setup(ctx) {
    ctx.flows.registerChain(createSecurityGroupChain);
    ctx.cascade.register(securityGroupCascadeEntry(ctx));
    ctx.cascade.register(securityGroupL3RefCascadeEntry(ctx));
    ctx.bus.registerService(serviceFromHandlers('securityGroup', { ...securityGroupHandlers(ctx), ...membershipHandlers(ctx), ...nicApiHandlers(ctx), [SecurityGroupMessages.delete]: securityGroupDeleteHandler(ctx) }));
  },
};
