import { AfterHostConnected, HostLifecyclePoint } from '../../contracts/host.ts';
import { PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages, PrimaryStorageTypePoint } from '../../contracts/primary-storage.ts';
import { VolumeSnapshotBackendPoint } from '../../contracts/volume-snapshot.ts';
import { AfterVmMigratedOnHost, AfterVmMigrateTargetAllocated, AgentCommandPoint, VmCommandDecoratorPoint } from '../../contracts/vm.ts';
import { LOCAL_STORAGE_DOWNLOAD_PROGRESS_PATH } from '../../contracts/local-storage-agent.ts';
import type { ServiceModule } from '../../core/node-context.ts';
import { localStorageBackend } from './backend.ts';
import { localStorageHosts, LOCAL_STORAGE_TYPE } from './hosts.ts';
import { initLocalStorageOnHost } from './init-host-step.ts';
import { localStorageMigrateSteps } from './migrate-vm.ts';
import { localStorageImageCache } from './image-cache.ts';
import { localStorageCacheChargeMigration, localStorageMigration } from './schema.ts';
import { localStorageSnapshotBackend } from './snapshot-backend.ts';

export { LocalStorageAgentPaths, type LocalStorageInitResponse, type LocalStorageSnapshotResponse } from './agent-commands.ts';
export { LOCAL_STORAGE_TYPE } from './hosts.ts';

/**
 * Local storage (`AddLocalPrimaryStorage`): the control plane. Per-host disk rows filled when hosts of
 * attached clusters connect or a cluster is attached, capacity summed over them, volumes placed on a
 * host with room, snapshots on their volume's host; the hosts' agents do the disk work.
 */
export const localStoragePlugin: ServiceModule = {
  id: 'local-storage',
  migrations: [localStorageMigration, localStorageCacheChargeMigration],
  setup(ctx) {
    const hosts = localStorageHosts({ db: ctx.db, extensions: ctx.extensions, agents: ctx.agents });
    const caches = localStorageImageCache({ db: ctx.db, agents: ctx.agents, hosts, bus: ctx.bus, queues: ctx.queues, log: ctx.log });
    ctx.extensions.registerStrategy(PrimaryStorageTypePoint, LOCAL_STORAGE_TYPE, localStorageBackend(ctx.db, ctx.agents, hosts, caches, ctx.progress), { by: 'local-storage' });
    ctx.extensions.registerStrategy(VolumeSnapshotBackendPoint, LOCAL_STORAGE_TYPE, localStorageSnapshotBackend(ctx.db, ctx.agents, hosts), { by: 'local-storage' });
    ctx.flows.insert(AfterHostConnected, initLocalStorageOnHost(hosts));
    // A live migration moves the VM's local disks (the agents copy them) and their records (capacity per host).
    const migrate = localStorageMigrateSteps({ db: ctx.db, hosts, caches, log: ctx.log });
    ctx.flows.insert(AfterVmMigrateTargetAllocated, migrate.prepare);
    ctx.flows.insert(AfterVmMigratedOnHost, migrate.records);
    ctx.extensions.registerObserver(VmCommandDecoratorPoint, migrate.decorator, { by: 'local-storage' });
    // A host filling its image cache reports progress while the download runs: to the waiting command.
    ctx.extensions.registerStrategy(AgentCommandPoint, LOCAL_STORAGE_DOWNLOAD_PROGRESS_PATH, { handle: async (body) => ({ delivered: ctx.agents.deliverProgress(body) }) }, { by: 'local-storage' });
    ctx.extensions.registerObserver(HostLifecyclePoint, {
      async afterDelete(host) {
        const refs = await ctx.db.selectFrom('local_storage_host_ref').select('primaryStorageUuid').where('hostUuid', '=', host.uuid).execute();
        // The host's image cache copies go with it (the storage stops paying for them).
        await caches.removeCopiesOnHosts([host.uuid]);
        await ctx.db.deleteFrom('local_storage_host_ref').where('hostUuid', '=', host.uuid).execute();
        for (const r of refs) await ctx.bus.call(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.syncCapacity, { uuid: r.primaryStorageUuid }, { resourceUuid: r.primaryStorageUuid as string });
      },
    }, { by: 'local-storage' });
  },
};
