import { OfferingLifecyclePoint } from '../../contracts/offering.ts';
import { VOLUME_SERVICE } from '../../contracts/volume.ts';
import { serviceFromHandlers } from '../../core/bus/index.ts';
import type { ServiceModule } from '../../core/node-context.ts';
import { volumeApis } from './apis.ts';
import { volumeCascadeEntry } from './cascade.ts';
import { volumeChains } from './flows/volume-chains.ts';
import { volumeHandlers } from './handlers.ts';
import { uninstantiateHandler } from './uninstantiate-handler.ts';
import { VolumeInventory, volumeMigration } from './schema.ts';

/** Volumes: data volumes created, placed on a primary storage, resized, deleted, recovered and expunged. */
export const volumeService: ServiceModule = {
  id: 'volume',
  migrations: [volumeMigration],
  inventories: [VolumeInventory],
  apis: volumeApis,
  setup(ctx) {
    const deletionPolicy = ctx.config.define({ category: 'volume', name: 'deletionPolicy', type: 'string', defaultValue: 'Delay', validValues: ['Direct', 'Delay', 'Never'], description: 'the behavior of deleting a data volume: Direct deletes it from the database and the primary storage; Delay marks it Deleted (recoverable until expunged); Never deletes the record but leaves the bits' });
    const chains = volumeChains();
    ctx.flows.registerChain(chains.instantiate);
    ctx.flows.registerChain(chains.createData);
    ctx.cascade.register(volumeCascadeEntry(ctx));
    // ZStack's volume.diskOffering.setNullWhenDeleting (default true): volumes outlive their offering.
    ctx.extensions.registerObserver(OfferingLifecyclePoint, {
      async afterDeleteDiskOffering(offering) {
        await ctx.db.updateTable('volume').set({ diskOfferingUuid: null }).where('diskOfferingUuid', '=', offering.uuid).execute();
      },
    }, { by: 'volume' });
    ctx.bus.registerService(serviceFromHandlers(VOLUME_SERVICE, { ...volumeHandlers(ctx, { chains, deletionPolicy }), ...uninstantiateHandler(ctx) }));
  },
};
