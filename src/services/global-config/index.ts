import type { ApiParams } from '../../core/api/define-api.ts';
import { serviceFromHandlers, type Message } from '../../core/bus/index.ts';
import { globalConfigMigration } from '../../core/config/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { ServiceModule } from '../../core/node-context.ts';
import { rowToInventory } from '../../core/query/inventory.ts';
import { globalConfigApis, type UpdateGlobalConfig } from './apis.ts';
import { GlobalConfigInventory } from './schema.ts';

const CHANGED = 'globalConfig.changed';

/** The API over the node's GlobalConfig; a change on one node reaches every node's observers by event. */
export const globalConfigService: ServiceModule = {
  id: 'globalConfig',
  migrations: [globalConfigMigration],
  inventories: [GlobalConfigInventory],
  apis: globalConfigApis,
  setup(ctx) {
    const { config, db, bus, queues } = ctx;
    bus.subscribe<{ category: string; name: string; value: string; node: string }>(CHANGED, async (b) => {
      if (b.node !== ctx.nodeUuid) await config.applyRemoteChange(b.category, b.name, b.value);
    });
    bus.registerService(
      serviceFromHandlers('globalConfig', {
        UpdateGlobalConfig: async (msg: Message<ApiParams<typeof UpdateGlobalConfig>>) => {
          const { category, name, value } = msg.body;
          return queues.submit(`global-config-${category}.${name}`, async () => {
            await config.update(category, name, value);
            const row = await db.selectFrom('global_config').selectAll().where('category', '=', category).where('name', '=', name).executeTakeFirst();
            if (!row) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `no global configuration ${category}.${name}`);
            void bus.publish(CHANGED, { category, name, value: String(row.value), node: ctx.nodeUuid });
            return rowToInventory(GlobalConfigInventory, row);
          });
        },
      }),
    );
  },
};
