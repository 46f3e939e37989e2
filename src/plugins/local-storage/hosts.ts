import { sql, type Kysely } from 'kysely';
import { HypervisorFactoryPoint, type HostSpec } from '../../contracts/host.ts';
import type { PrimaryStorageCapacity, PrimaryStorageView } from '../../contracts/primary-storage.ts';
import type { AgentClient, AgentEndpoint } from '../../core/agent/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { ExtensionRegistry } from '../../core/plugin/index.ts';
import { LocalStorageAgentPaths, type LocalStorageInitResponse } from './agent-commands.ts';

export const LOCAL_STORAGE_TYPE = 'LocalStorage';

export interface LocalStorageDeps {
  db: Kysely<any>;
  extensions: ExtensionRegistry;
  agents: AgentClient;
}

/** The per-host side of local storage: which hosts give it disk, how much, and talking to their agents. */
export function localStorageHosts({ db, extensions, agents }: LocalStorageDeps) {
  async function endpointOf(hostUuid: string): Promise<AgentEndpoint> {
    const spec = await db.selectFrom('host').select(['uuid', 'name', 'managementIp', 'clusterUuid', 'zoneUuid', 'hypervisorType', 'agentToken']).where('uuid', '=', hostUuid).executeTakeFirst();
    if (!spec) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `unable to find Host[uuid:${hostUuid}]`);
    return extensions.strategy(HypervisorFactoryPoint, spec.hypervisorType as string).endpointOf(spec as HostSpec);
  }

  /** Connected hosts of the clusters the storage is attached to (or of one of them). */
  async function connectedHosts(psUuid: string, clusterUuid?: string): Promise<string[]> {
    let q = db.selectFrom('host').select('uuid').where('status', '=', 'Connected')
      .where('clusterUuid', 'in', db.selectFrom('primary_storage_cluster_ref').select('clusterUuid').where('primaryStorageUuid', '=', psUuid));
    if (clusterUuid) q = q.where('clusterUuid', '=', clusterUuid);
    return (await q.orderBy('uuid').execute()).map((r) => r.uuid as string);
  }

  /**
   * `/localstorage/init` on one host: records the disk it reports. The ref's available capacity is
   * what the host has free minus the volumes Strato placed there; the raw figures stay in the
   * physical columns, which is what the storage as a whole reports (the service subtracts its own reservations).
   */
  async function initHost(ps: PrimaryStorageView, hostUuid: string): Promise<void> {
    const r = await agents.call<LocalStorageInitResponse>(await endpointOf(hostUuid), LocalStorageAgentPaths.init, { path: ps.url, hostUuid });
    const total = Number(r.totalCapacity);
    const available = Number(r.availableCapacity);
    const used = await db.selectFrom('local_storage_resource_ref').select((eb) => eb.fn.sum<number>('size').as('used')).where('primaryStorageUuid', '=', ps.uuid).where('hostUuid', '=', hostUuid).executeTakeFirst();
    const now = Date.now();
    const values = { totalCapacity: total, availableCapacity: available - Number(used?.used ?? 0), totalPhysicalCapacity: total, availablePhysicalCapacity: available, lastOpDate: now };
    const u = await db.updateTable('local_storage_host_ref').set(values).where('primaryStorageUuid', '=', ps.uuid).where('hostUuid', '=', hostUuid).executeTakeFirst();
    if (Number(u.numUpdatedRows) === 0) await db.insertInto('local_storage_host_ref').values({ primaryStorageUuid: ps.uuid, hostUuid, ...values, createDate: now }).execute();
  }

  async function capacity(psUuid: string): Promise<PrimaryStorageCapacity> {
    const s = await db
      .selectFrom('local_storage_host_ref')
      .select((eb) => [eb.fn.sum<number>('totalCapacity').as('total'), eb.fn.sum<number>('availablePhysicalCapacity').as('available')])
      .where('primaryStorageUuid', '=', psUuid)
      .executeTakeFirst();
    const total = Number(s?.total ?? 0);
    const available = Number(s?.available ?? 0);
    return { totalCapacity: total, availableCapacity: available, totalPhysicalCapacity: total, availablePhysicalCapacity: available };
  }

  /** Takes `size` bytes on `hostUuid`, or on the host with most room; conditional, so hosts never overcommit. */
  async function takeOnHost(psUuid: string, size: number, hostUuid?: string): Promise<string> {
    const hosts = hostUuid
      ? [hostUuid]
      : (await db.selectFrom('local_storage_host_ref').select('hostUuid').where('primaryStorageUuid', '=', psUuid).where('availableCapacity', '>=', size).orderBy('availableCapacity', 'desc').orderBy('hostUuid').execute()).map((r) => r.hostUuid as string);
    for (const h of hosts) {
      const r = await db.updateTable('local_storage_host_ref').set({ availableCapacity: sql`availableCapacity - ${size}` }).where('primaryStorageUuid', '=', psUuid).where('hostUuid', '=', h).where('availableCapacity', '>=', size).executeTakeFirst();
      if (Number(r.numUpdatedRows) === 1) return h;
    }
    throw new StratoError(SysErrors.OPERATION_ERROR, `no host of local storage ${psUuid}${hostUuid ? ` (asked: ${hostUuid})` : ''} has ${size} bytes free`);
  }

  async function giveBackOnHost(psUuid: string, hostUuid: string, size: number): Promise<void> {
    await db.updateTable('local_storage_host_ref').set({ availableCapacity: sql`availableCapacity + ${size}` }).where('primaryStorageUuid', '=', psUuid).where('hostUuid', '=', hostUuid).execute();
  }

  /** False once the host was deleted: its disk, and every file Strato put there, went with it. */
  async function hostExists(hostUuid: string): Promise<boolean> {
    return Boolean(await db.selectFrom('host').select('uuid').where('uuid', '=', hostUuid).executeTakeFirst());
  }

  return { endpointOf, connectedHosts, initHost, capacity, takeOnHost, giveBackOnHost, hostExists };
}

export type LocalStorageHosts = ReturnType<typeof localStorageHosts>;
