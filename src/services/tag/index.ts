import { serviceFromHandlers } from '../../core/bus/index.ts';
import type { ServiceModule } from '../../core/node-context.ts';
import { tagMigration } from '../../core/tag/index.ts';
import { tagApis } from './apis.ts';
import { tagHandlers } from './handlers.ts';
import { SystemTagInventory, UserTagInventory } from './schema.ts';

/** The tag APIs: user tags on any resource, system tags validated against declared patterns. */
export const tagService: ServiceModule = {
  id: 'tag',
  migrations: [tagMigration],
  inventories: [SystemTagInventory, UserTagInventory],
  apis: tagApis,
  setup(ctx) {
    ctx.bus.registerService(serviceFromHandlers('tag', tagHandlers(ctx)));
  },
};
