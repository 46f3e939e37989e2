import { OwnershipEvents, type OwnerChangedEvent } from '../../contracts/ownership.ts';
import type { ApiParams } from '../../core/api/define-api.ts';
import { serviceFromHandlers, type Message } from '../../core/bus/index.ts';
import type { ServiceModule } from '../../core/node-context.ts';
import type { ChangeResourceOwner, RevokeResourceSharing, ShareResource } from './apis.ts';
import { ownershipApis } from './apis.ts';
import { forgetDeletedAccounts, ownedResourcesCascade } from './account-cascade.ts';
import { ownershipInterceptor } from './ownership-interceptor.ts';
import { declareTenantPolicies } from './policies.ts';
import { AccountResourceRefInventory, ownershipMigration, SharedResourceInventory } from './schema.ts';
import { Sharing } from './sharing.ts';
import { ResourceAccess } from './resource-access.ts';

/**
 * Resource ownership and sharing (ZStack's AccountResourceRefVO and SharedResourceVO): every create
 * records its owner on the bus, normal accounts act only on their own resources, reads are restricted
 * by the query engine through the tenant policies declared here.
 */
export const ownershipService: ServiceModule = {
  id: 'ownership',
  migrations: [ownershipMigration],
  inventories: [AccountResourceRefInventory, SharedResourceInventory],
  apis: ownershipApis,
  setup(ctx) {
    declareTenantPolicies();
    const access = new ResourceAccess(ctx.db, ctx.inventories);
    ctx.bus.addInterceptor(ownershipInterceptor(ctx.db, ctx.apis, ctx.inventories, access));
    ctx.cascade.register(ownedResourcesCascade(ctx.db, ctx.bus, ctx.apis, access, ctx.log));
    forgetDeletedAccounts(ctx.db, ctx.bus);
    const sharing = new Sharing(ctx.db, ctx.inventories, access);
    ctx.bus.registerService(
      serviceFromHandlers('ownership', {
        ShareResource: async (msg: Message<ApiParams<typeof ShareResource>>) => sharing.share(msg.caller!, msg.body),
        RevokeResourceSharing: async (msg: Message<ApiParams<typeof RevokeResourceSharing>>) => sharing.revoke(msg.caller!, msg.body),
        ChangeResourceOwner: async (msg: Message<ApiParams<typeof ChangeResourceOwner>>) => {
          const { inventory, from, type } = await sharing.changeOwner(msg.body.resourceUuid, msg.body.accountUuid);
          const event: OwnerChangedEvent = { resourceUuid: msg.body.resourceUuid, resourceType: type, fromAccountUuid: from, toAccountUuid: msg.body.accountUuid };
          if (from !== event.toAccountUuid) await ctx.bus.publish(OwnershipEvents.ownerChanged, event);
          return inventory;
        },
      }),
    );
  },
};
