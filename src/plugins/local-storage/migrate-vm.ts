import { sql, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import { VmAgentPaths, type MigrateVmStepCtx, type VmCommandDecorator } from '../../contracts/vm.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { FlowStep } from '../../core/flow/index.ts';
import { LOCAL_STORAGE_TYPE, type LocalStorageHosts } from './hosts.ts';
import type { LocalStorageImageCache } from './image-cache.ts';
import { loadPrimaryStorageView } from './view.ts';

/**
 * Live migration of a VM whose disks are on local storage (ZStack's LocalStorageKvmMigrateVmFlow):
 * the disks travel with the VM (the agents copy them: src/agent/vm/migrate-disks.ts), and the records
 * follow here. Before `/vm/migrate` (at `vm.migrate.afterTargetAllocated`) the target host gets room
 * for the disks and, when a backup storage still has the root volume's image, that image in its cache,
 * so only each disk's own layer is copied. After the agents moved the VM (`afterMigratedOnHost`) each
 * volume is recorded on the target and its room on the source given back. Both roll back.
 */

/** One volume of the VM on a local storage, on the host the records say. */
interface LocalVolume {
  uuid: string;
  primaryStorageUuid: string;
  size: number;
  hostUuid: string;
  rootImageUuid: string | null;
}

/** What these steps keep in the chain's (journaled) context for their rollbacks. */
interface LocalStorageMigrateState {
  /** Room taken on the target, per storage (given back by the prepare step's rollback). */
  takenOnTarget: Array<{ primaryStorageUuid: string; size: number }>;
  /** An image cache the prepare step made on the target (removed by its rollback). */
  cacheMade?: { primaryStorageUuid: string; imageUuid: string; installPath: string; size: number };
  /** Set before the volumes' records move: the record step's rollback moves them back. */
  recordsMoved?: boolean;
}

type Ctx = MigrateVmStepCtx & { localStorageMigration?: LocalStorageMigrateState };

async function localVolumesOf(db: Kysely<any>, vmUuid: string): Promise<LocalVolume[]> {
  const rows = await db
    .selectFrom('volume as v')
    .innerJoin('primary_storage as p', 'p.uuid', 'v.primaryStorageUuid')
    .innerJoin('local_storage_resource_ref as r', (j) => j.onRef('r.resourceUuid', '=', 'v.uuid').onRef('r.primaryStorageUuid', '=', 'v.primaryStorageUuid'))
    .select(['v.uuid as uuid', 'v.primaryStorageUuid as primaryStorageUuid', 'r.size as size', 'r.hostUuid as hostUuid', 'v.rootImageUuid as rootImageUuid', 'v.type as type'])
    .where('v.vmInstanceUuid', '=', vmUuid)
    .where('p.type', '=', LOCAL_STORAGE_TYPE)
    .orderBy('v.uuid')
    .execute();
  return rows.map((r) => ({ uuid: r.uuid as string, primaryStorageUuid: r.primaryStorageUuid as string, size: Number(r.size), hostUuid: r.hostUuid as string, rootImageUuid: r.type === 'Root' ? (r.rootImageUuid as string | null) : null }));
}

/** ZStack's check: a VM mixing local and other storage, or with snapshots on local storage, is not live-migrated. */
async function checkMigratable(db: Kysely<any>, vmUuid: string, sourceHostUuid: string, volumes: LocalVolume[]): Promise<void> {
  const all = await db.selectFrom('volume').select('uuid').where('vmInstanceUuid', '=', vmUuid).execute();
  if (all.length !== volumes.length) throw new StratoError(SysErrors.OPERATION_ERROR, `VM ${vmUuid} has volumes on local storage and on other storage: it cannot be live-migrated (detach the others first)`);
  const elsewhere = volumes.find((v) => v.hostUuid !== sourceHostUuid);
  if (elsewhere) throw new StratoError(SysErrors.OPERATION_ERROR, `volume ${elsewhere.uuid} of VM ${vmUuid} is recorded on host ${elsewhere.hostUuid}, not on the VM's host ${sourceHostUuid}`);
  const snap = await db.selectFrom('volume_snapshot').select(['uuid', 'volumeUuid']).where('volumeUuid', 'in', volumes.map((v) => v.uuid)).executeTakeFirst();
  if (snap) throw new StratoError(SysErrors.OPERATION_ERROR, `volume ${String(snap.volumeUuid)} on local storage has snapshots (${String(snap.uuid)}…): delete them before live-migrating VM ${vmUuid}; snapshot files do not move with it`);
}

export interface LocalStorageMigrateDeps {
  db: Kysely<any>;
  hosts: LocalStorageHosts;
  caches: LocalStorageImageCache;
  log: Logger;
}

export function localStorageMigrateSteps({ db, hosts, caches, log }: LocalStorageMigrateDeps): { prepare: FlowStep<Ctx>; records: FlowStep<Ctx>; decorator: VmCommandDecorator } {
  /** Best effort: the root volume's image into the target's cache from a backup storage that has it (else the agents copy the whole chain). */
  async function cacheOnTarget(ctx: Ctx, root: LocalVolume): Promise<void> {
    const target = ctx.target!.hostUuid;
    const imageUuid = root.rootImageUuid!;
    try {
      const copy = await caches.ensureOn(await loadPrimaryStorageView(db, root.primaryStorageUuid), imageUuid, target);
      if (copy.made) ctx.localStorageMigration!.cacheMade = { primaryStorageUuid: root.primaryStorageUuid, imageUuid, installPath: copy.installPath, size: copy.size };
    } catch (e) {
      // Gone from every backup storage, or no room for it there: the copy stands alone (same bytes, no shared base).
      log.warn({ vm: ctx.uuid, image: imageUuid, host: target, err: e instanceof Error ? e.message : String(e) }, 'local storage: could not cache the image on the migration target; the disks are copied whole');
    }
  }

  const prepare: FlowStep<Ctx> = {
    name: 'local-storage-migrate-prepare',
    async run(ctx, env) {
      const volumes = await localVolumesOf(db, ctx.uuid);
      if (!volumes.length) return;
      await checkMigratable(db, ctx.uuid, ctx.sourceHostUuid, volumes);
      const target = ctx.target!.hostUuid;
      const state: LocalStorageMigrateState = (ctx.localStorageMigration = { takenOnTarget: [] });
      for (const v of volumes) {
        const served = await db.selectFrom('local_storage_host_ref').select('hostUuid').where('primaryStorageUuid', '=', v.primaryStorageUuid).where('hostUuid', '=', target).executeTakeFirst();
        if (!served) throw new StratoError(SysErrors.OPERATION_ERROR, `host ${target} has no disk of local storage ${v.primaryStorageUuid}: volume ${v.uuid} cannot move there`);
        await hosts.takeOnHost(v.primaryStorageUuid, v.size, target);
        state.takenOnTarget.push({ primaryStorageUuid: v.primaryStorageUuid, size: v.size });
        await env.checkpoint();
      }
      const root = volumes.find((v) => v.rootImageUuid);
      if (root) await cacheOnTarget(ctx, root);
      await env.checkpoint();
    },
    async rollback(ctx) {
      const state = ctx.localStorageMigration;
      if (!state || !ctx.target) return;
      const target = ctx.target.hostUuid;
      for (const t of state.takenOnTarget.splice(0)) await hosts.giveBackOnHost(t.primaryStorageUuid, target, t.size);
      const c = state.cacheMade;
      if (c) {
        await caches.removeCopy(c.primaryStorageUuid, c.imageUuid, target, { deleteBits: c.installPath });
        state.cacheMade = undefined;
      }
    },
  };

  /** Moves each volume's record from one host to the other: the room was taken on `to` already; `from` gets its room back. */
  async function move(vmUuid: string, from: string, to: string): Promise<void> {
    for (const v of await localVolumesOf(db, vmUuid)) {
      if (v.hostUuid !== from) continue;
      await db.updateTable('local_storage_resource_ref').set({ hostUuid: to, lastOpDate: Date.now() }).where('primaryStorageUuid', '=', v.primaryStorageUuid).where('resourceUuid', '=', v.uuid).where('hostUuid', '=', from).execute();
      await hosts.giveBackOnHost(v.primaryStorageUuid, from, v.size);
    }
  }

  const records: FlowStep<Ctx> = {
    name: 'local-storage-migrate-records',
    async run(ctx, env) {
      const state = ctx.localStorageMigration;
      if (!state) return;
      state.recordsMoved = true;
      await env.checkpoint();
      await move(ctx.uuid, ctx.sourceHostUuid, ctx.target!.hostUuid);
      // The target's room is the volumes' own now: the prepare step's rollback must not give it back.
      state.takenOnTarget = [];
      state.cacheMade = undefined;
      await env.checkpoint();
    },
    async rollback(ctx) {
      const state = ctx.localStorageMigration;
      if (!state?.recordsMoved || !ctx.target) return;
      const target = ctx.target.hostUuid;
      // Back on the source: its room taken again (unconditionally: it was the volumes' a moment ago), the target's kept for the prepare step's rollback.
      for (const v of await localVolumesOf(db, ctx.uuid)) {
        if (v.hostUuid !== target) continue;
        await db.updateTable('local_storage_resource_ref').set({ hostUuid: ctx.sourceHostUuid, lastOpDate: Date.now() }).where('primaryStorageUuid', '=', v.primaryStorageUuid).where('resourceUuid', '=', v.uuid).where('hostUuid', '=', target).execute();
        await db.updateTable('local_storage_host_ref').set({ availableCapacity: sql`availableCapacity - ${v.size}` }).where('primaryStorageUuid', '=', v.primaryStorageUuid).where('hostUuid', '=', ctx.sourceHostUuid).execute();
        state.takenOnTarget.push({ primaryStorageUuid: v.primaryStorageUuid, size: v.size });
      }
      state.recordsMoved = false;
    },
  };

  /** `/vm/migrate` of a VM on local storage asks the agents to copy its disks (IncCopy: only each disk's own layer when its base is cached there). */
  const decorator: VmCommandDecorator = {
    async decorate(path, cmd) {
      if (path !== VmAgentPaths.migrate || typeof cmd.vmInstanceUuid !== 'string') return cmd;
      const volumes = await localVolumesOf(db, cmd.vmInstanceUuid);
      return volumes.length ? { ...cmd, storageMigrationPolicy: 'IncCopy' } : cmd;
    },
  };

  return { prepare, records, decorator };
}
