import type { Kysely } from 'kysely';
import type { PrimaryStorageView } from '../../contracts/primary-storage.ts';
import type { SnapshotBits, VolumeSnapshotBackend } from '../../contracts/volume-snapshot.ts';
import type { AgentClient } from '../../core/agent/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import { LocalStorageAgentPaths, type LocalStorageSnapshotResponse } from './agent-commands.ts';
import type { LocalStorageHosts } from './hosts.ts';

const SNAPSHOT_RESOURCE_TYPE = 'VolumeSnapshotVO';

/**
 * Snapshots on local storage: a snapshot lives on the host that holds its volume (a qcow2 chain in
 * the volume's folder). Each one is a `local_storage_resource_ref` row on that host, and its size is
 * taken from that host's `local_storage_host_ref` (conditionally, as volumes are) — the storage-wide
 * reservation is the volume-snapshot service's. The bits are made by the host's agent
 * (`/localstorage/snapshot/*`). Every method gives back what it took when the agent fails.
 *
 * Host capacity follows the service's accounting: a snapshot holds its volume's size; merging it into
 * a child grows the child by that much (taken on the host), deleting it gives it back, so a snapshot
 * with k children leaves (k-1) × its size behind; merging into the volume changes nothing.
 */
export function localStorageSnapshotBackend(db: Kysely<any>, agents: AgentClient, hosts: LocalStorageHosts): VolumeSnapshotBackend {
  const refs = 'local_storage_resource_ref';

  async function refOf(psUuid: string, resourceUuid: string): Promise<{ hostUuid: string; size: number } | undefined> {
    const r = await db.selectFrom(refs).select(['hostUuid', 'size']).where('primaryStorageUuid', '=', psUuid).where('resourceUuid', '=', resourceUuid).executeTakeFirst();
    return r ? { hostUuid: r.hostUuid as string, size: Number(r.size) } : undefined;
  }

  async function hostHolding(ps: PrimaryStorageView, resourceUuid: string, what: string): Promise<{ hostUuid: string; size: number }> {
    const ref = await refOf(ps.uuid, resourceUuid);
    if (!ref) throw new StratoError(SysErrors.OPERATION_ERROR, `${what} ${resourceUuid} is on no host of local storage ${ps.uuid}`);
    return ref;
  }

  const call = async (hostUuid: string, path: string, body: Record<string, unknown>) => agents.call<LocalStorageSnapshotResponse>(await hosts.endpointOf(hostUuid), path, body);

  async function setRefSize(psUuid: string, resourceUuid: string, size: number): Promise<void> {
    await db.updateTable(refs).set({ size, lastOpDate: Date.now() }).where('primaryStorageUuid', '=', psUuid).where('resourceUuid', '=', resourceUuid).execute();
  }

  /** Runs `work` after taking `size` on the host; gives it back when `work` throws. */
  async function withRoom<T>(ps: PrimaryStorageView, hostUuid: string, size: number, work: () => Promise<T>): Promise<T> {
    if (size > 0) await hosts.takeOnHost(ps.uuid, size, hostUuid);
    try {
      return await work();
    } catch (e) {
      if (size > 0) await hosts.giveBackOnHost(ps.uuid, hostUuid, size);
      throw e;
    }
  }

  const snapshotPath = (volumeInstallPath: string, snapshotUuid: string) => `${volumeInstallPath.replace(/\/[^/]*$/, '')}/snapshots/${snapshotUuid}.qcow2`;

  return {
    async takeSnapshot(ps, volume, snapshot) {
      if (!volume.installPath) throw new StratoError(SysErrors.OPERATION_ERROR, `volume ${volume.uuid} has no bits on local storage ${ps.uuid}`);
      const { hostUuid } = await hostHolding(ps, volume.uuid, 'volume');
      const installPath = snapshotPath(volume.installPath, snapshot.uuid);
      const size = volume.size;
      await withRoom(ps, hostUuid, size, async () => {
        await call(hostUuid, LocalStorageAgentPaths.takeSnapshot, { volumeUuid: volume.uuid, volumeInstallPath: volume.installPath, installPath, parentInstallPath: snapshot.parent?.installPath ?? null });
        try {
          const now = Date.now();
          await db.insertInto(refs).values({ primaryStorageUuid: ps.uuid, resourceUuid: snapshot.uuid, hostUuid, resourceType: SNAPSHOT_RESOURCE_TYPE, size, createDate: now, lastOpDate: now }).execute();
        } catch (e) {
          await call(hostUuid, LocalStorageAgentPaths.delete, { path: installPath }).catch(() => undefined);
          throw e;
        }
      });
      return { installPath, size, format: volume.format ?? 'qcow2', type: 'Hypervisor' };
    },

    async revertVolume(ps, volume, snapshot) {
      const { hostUuid } = await hostHolding(ps, snapshot.snapshotUuid, 'snapshot');
      await call(hostUuid, LocalStorageAgentPaths.revertSnapshot, { snapshotInstallPath: snapshot.installPath, volumeInstallPath: volume.installPath, volumeUuid: volume.uuid });
    },

    async mergeSnapshot(ps, snapshot, into) {
      const { hostUuid } = await hostHolding(ps, snapshot.snapshotUuid, 'snapshot');
      if (into.volume) {
        const vol = await refOf(ps.uuid, into.uuid);
        await call(hostUuid, LocalStorageAgentPaths.mergeSnapshot, { srcPath: snapshot.installPath, destPath: into.installPath, volumeUuid: into.uuid });
        return { size: vol?.size ?? 0, formerSize: vol?.size ?? 0 };
      }
      const child = await hostHolding(ps, into.uuid, 'snapshot');
      const size = child.size + snapshot.size;
      await withRoom(ps, hostUuid, snapshot.size, async () => {
        await call(hostUuid, LocalStorageAgentPaths.offlineMergeSnapshot, { srcPath: snapshot.installPath, destPath: into.installPath });
        await setRefSize(ps.uuid, into.uuid, size);
      });
      return { size, formerSize: child.size };
    },

    async rebase(ps, snapshot, into) {
      const { hostUuid } = await hostHolding(ps, snapshot.snapshotUuid, 'snapshot');
      await call(hostUuid, LocalStorageAgentPaths.rebaseSnapshot, { backingPath: snapshot.installPath, destPath: into.installPath });
      if (into.volume) return;
      const child = await refOf(ps.uuid, into.uuid);
      if (!child) return;
      await setRefSize(ps.uuid, into.uuid, into.size);
      if (child.size > into.size) await hosts.giveBackOnHost(ps.uuid, child.hostUuid, child.size - into.size);
    },

    async deleteSnapshot(ps, snapshot: SnapshotBits) {
      const ref = await refOf(ps.uuid, snapshot.snapshotUuid);
      if (!ref) return;
      // (as for volumes: on a host deleted since, the file went with it)
      if (await hosts.hostExists(ref.hostUuid)) await call(ref.hostUuid, LocalStorageAgentPaths.delete, { path: snapshot.installPath });
      await db.deleteFrom(refs).where('primaryStorageUuid', '=', ps.uuid).where('resourceUuid', '=', snapshot.snapshotUuid).execute();
      await hosts.giveBackOnHost(ps.uuid, ref.hostUuid, ref.size);
    },
  };
}
