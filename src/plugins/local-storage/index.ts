import { AfterHostConnected, HostLifecyclePoint } from '../../contracts/host.ts';
import { PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages, PrimaryStorageTypePoint } from '../../contracts/primary-storage.ts';
import { VolumeSnapshotBackendPoint } from '../../contracts/volume-snapshot.ts';
import type { ServiceModule } from '../../core/node-context.ts';
import { localStorageBackend } from './backend.ts';
import { localStorageHosts, LOCAL_STORAGE_TYPE } from './hosts.ts';
import { initLocalStorageOnHost } from './init-host-step.ts';
import { localStorageMigration } from './schema.ts';
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
  migrations: [localStorageMigration],
  setup(ctx) {
    const hosts = localStorageHosts({ db: ctx.db, extensions: ctx.extensions, agents: ctx.agents });
    ctx.extensions.registerStrategy(PrimaryStorageTypePoint, LOCAL_STORAGE_TYPE, localStorageBackend(ctx.db, ctx.agents, hosts, ctx.bus), { by: 'local-storage' });
    ctx.extensions.registerStrategy(VolumeSnapshotBackendPoint, LOCAL_STORAGE_TYPE, localStorageSnapshotBackend(ctx.db, ctx.agents, hosts), { by: 'local-storage' });
    ctx.flows.insert(AfterHostConnected, initLocalStorageOnHost(hosts));
    ctx.extensions.registerObserver(HostLifecyclePoint, {
      async afterDelete(host) {
        const refs = await ctx.db.selectFrom('local_storage_host_ref').select('primaryStorageUuid').where('hostUuid', '=', host.uuid).execute();
        await ctx.db.deleteFrom('local_storage_host_ref').where('hostUuid', '=', host.uuid).execute();
        for (const r of refs) await ctx.bus.call(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.syncCapacity, { uuid: r.primaryStorageUuid }, { resourceUuid: r.primaryStorageUuid as string });
      },
    }, { by: 'local-storage' });
  },
};
