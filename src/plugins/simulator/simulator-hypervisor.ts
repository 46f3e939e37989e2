import type { Kysely } from 'kysely';
import type { HostSpec, HypervisorFactory } from '../../contracts/host.ts';
import type { ConfigHandle } from '../../core/config/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { SimulatorFleet, SimulatorTransport } from './simulator-fleet.ts';

/** 'Simulator' hosts: deploying one starts a simulated agent with the capacity stored for it. */
export function simulatorHypervisor(db: Kysely<any>, fleet: SimulatorFleet, transport: ConfigHandle<string>): HypervisorFactory {
  return {
    async deploy(host: HostSpec, opts) {
      if (opts.newAdded && opts.params) {
        const cpuCapacity = Number(opts.params.cpuCapacity);
        const memoryCapacity = Number(opts.params.memoryCapacity);
        if (!(cpuCapacity > 0) || !(memoryCapacity > 0)) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, 'a simulator host needs a positive cpuCapacity and memoryCapacity');
        await db.deleteFrom('simulator_host').where('uuid', '=', host.uuid).execute();
        await db.insertInto('simulator_host').values({ uuid: host.uuid, cpuCapacity, memoryCapacity }).execute();
      }
      const row = await db.selectFrom('simulator_host').selectAll().where('uuid', '=', host.uuid).executeTakeFirst();
      if (!row) throw new StratoError(SysErrors.RESOURCE_NOT_FOUND, `simulator host ${host.uuid} has no simulated capacity`);
      fleet.deploy(host.uuid, 'host', host.agentToken, { cpuCapacity: Number(row.cpuCapacity), memoryCapacity: Number(row.memoryCapacity) });
    },
    async endpointOf(host: HostSpec) {
      // An agent forgotten by a restart of this node (or owned by another before) is redeployed on demand.
      if (!fleet.agent(host.uuid)) await this.deploy(host, { newAdded: false });
      return fleet.endpointOf(host.uuid, transport.get() as SimulatorTransport);
    },
    async cleanup(hostUuid: string) {
      fleet.remove(hostUuid);
      await db.deleteFrom('simulator_host').where('uuid', '=', hostUuid).execute();
    },
  };
}
