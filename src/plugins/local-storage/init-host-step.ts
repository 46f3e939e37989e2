import type { ConnectHostCtx } from '../../contracts/host.ts';
import { PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages } from '../../contracts/primary-storage.ts';
import type { FlowStep } from '../../core/flow/index.ts';
import type { Kysely } from 'kysely';
import { LOCAL_STORAGE_TYPE, type LocalStorageHosts } from './hosts.ts';
import { loadPrimaryStorageView } from './view.ts';

async function localStoragesOfHost(db: Kysely<any>, hostUuid: string): Promise<string[]> {
  const rows = await db
    .selectFrom('primary_storage_cluster_ref as r')
    .innerJoin('primary_storage as p', 'p.uuid', 'r.primaryStorageUuid')
    .innerJoin('host as h', 'h.clusterUuid', 'r.clusterUuid')
    .select('p.uuid')
    .where('h.uuid', '=', hostUuid)
    .where('p.type', '=', LOCAL_STORAGE_TYPE)
    .execute();
  return rows.map((r) => r.uuid as string);
}

/**
 * At `host.connect.afterConnected`: each local storage attached to the host's cluster learns the
 * host's disk (`/localstorage/init`) and recounts its capacity. A failure fails the connect, as in
 * ZStack; the rollback of a first add forgets the host again.
 */
export function initLocalStorageOnHost(hosts: LocalStorageHosts): FlowStep<ConnectHostCtx> {
  return {
    name: 'local-storage-init-host',
    async run(ctx, env) {
      const db = env.services.db!;
      for (const psUuid of await localStoragesOfHost(db, ctx.uuid)) {
        await hosts.initHost(await loadPrimaryStorageView(db, psUuid), ctx.uuid);
        await env.services.bus!.call(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.syncCapacity, { uuid: psUuid }, { resourceUuid: psUuid });
      }
    },
    async rollback(ctx, env) {
      if (!ctx.newAdded) return;
      const db = env.services.db!;
      const refs = await db.selectFrom('local_storage_host_ref').select('primaryStorageUuid').where('hostUuid', '=', ctx.uuid).execute();
      await db.deleteFrom('local_storage_host_ref').where('hostUuid', '=', ctx.uuid).execute();
      for (const r of refs) await env.services.bus!.call(PRIMARY_STORAGE_SERVICE, PrimaryStorageMessages.syncCapacity, { uuid: r.primaryStorageUuid }, { resourceUuid: r.primaryStorageUuid as string });
    },
  };
}
