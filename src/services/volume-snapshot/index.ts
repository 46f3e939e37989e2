import { VolumeSnapshotBackendPoint, VOLUME_SNAPSHOT_SERVICE } from '../../contracts/volume-snapshot.ts';
import { VolumeLifecyclePoint } from '../../contracts/volume.ts';
import { serviceFromHandlers } from '../../core/bus/index.ts';
import type { ServiceModule } from '../../core/node-context.ts';
import { volumeSnapshotApis } from './apis.ts';
import { simulatorSnapshotBackend } from './backends/simulator-backend.ts';
import { volumeSnapshotCascadeEntry } from './cascade.ts';
import { createSnapshotChain } from './flows/create-chain.ts';
import { deleteSnapshotChain } from './flows/delete-chain.ts';
import { revertSnapshotChain } from './flows/revert-chain.ts';
import { volumeSnapshotHandlers } from './handlers.ts';
import { VolumeSnapshotInventory, volumeSnapshotMigration, VolumeSnapshotTreeInventory } from './schema.ts';

export { clearSnapshotFaults, injectSnapshotFault } from './backends/faults.ts';

/**
 * Volume snapshots: a tree per volume, taken, reverted and deleted (with merges) through the
 * `VolumeSnapshotBackendPoint` of the volume's primary storage type; the capacity they hold is
 * reserved on the storage. The simulator primary storage's backend is built in.
 */
export const volumeSnapshotService: ServiceModule = {
  id: 'volume-snapshot',
  dependsOn: ['volume', 'primary-storage'],
  migrations: [volumeSnapshotMigration],
  inventories: [VolumeSnapshotInventory, VolumeSnapshotTreeInventory],
  apis: volumeSnapshotApis,
  setup(ctx) {
    const deps = { db: ctx.db, extensions: ctx.extensions };
    const chains = { create: createSnapshotChain(deps), delete: deleteSnapshotChain(deps), revert: revertSnapshotChain(deps) };
    for (const chain of Object.values(chains)) ctx.flows.registerChain(chain);
    ctx.extensions.registerStrategy(VolumeSnapshotBackendPoint, 'SimulatorPrimaryStorage', simulatorSnapshotBackend(ctx.db), { by: 'volume-snapshot' });
    const { handlers, dropForVolume } = volumeSnapshotHandlers(ctx, chains);
    // Expunged or forgotten by the volume service (already in the volume's queue): its snapshots go with it.
    ctx.extensions.registerObserver(VolumeLifecyclePoint, {
      afterExpunge: (v) => dropForVolume(v.uuid, { force: true }),
      async afterDelete(v) {
        // volume.deletionPolicy=Never drops the row and leaves the bits: the snapshots' records follow, their bits stay.
        if (!(await ctx.db.selectFrom('volume').select('uuid').where('uuid', '=', v.uuid).executeTakeFirst())) await dropForVolume(v.uuid, { keepBits: true });
      },
    }, { by: 'volume-snapshot' });
    ctx.cascade.register(volumeSnapshotCascadeEntry(ctx));
    ctx.bus.registerService(serviceFromHandlers(VOLUME_SNAPSHOT_SERVICE, handlers));
  },
};
