import type { Kysely } from 'kysely';
import { VmAgentPaths } from '../../../contracts/vm.ts';
import type { AgentResponse } from '../../../core/agent/index.ts';
import type { FlowStep } from '../../../core/flow/index.ts';
import { callHostAgent } from '../vm-agent.ts';
import type { MigrateVmCtx } from './migrate-vm-ctx.ts';
import type { VmFlowDeps } from './start-on-host.ts';

/** A migration copying local disks runs as long as they take: bounded by the API call's own deadline, not the agents' 5-minute default. */
const MIGRATE_CALL = { timeoutMs: 3 * 3600_000 };

/** Live states: the VM is there (the agent answers Stopped for a VM it does not have). */
const RUNS = new Set(['Running', 'Paused']);

/**
 * `/vm/migrate` on the source's agent. Rollback asks the target whether the VM got there (the migration
 * may have finished, or a later step failed) and, if so, migrates it back to the source. A VM still
 * arriving there (the source's agent died or the call timed out mid-copy) is dropped at the target
 * instead: its paused `-incoming` QEMU would otherwise stay, and the source's QEMU, whose migration then
 * fails, keeps running the guest.
 */
export function migrateOnHost(deps: VmFlowDeps): FlowStep<MigrateVmCtx> {
  const managementIp = async (db: Kysely<any>, hostUuid: string) =>
    (await db.selectFrom('host').select('managementIp').where('uuid', '=', hostUuid).executeTakeFirstOrThrow()).managementIp as string;
  return {
    name: 'migrate-on-host',
    async run(ctx, env) {
      const db = env.services.db!;
      const target = ctx.target!;
      ctx.migrateSent = true;
      await env.checkpoint();
      await callHostAgent({ db, ...deps }, ctx.sourceHostUuid, VmAgentPaths.migrate, {
        vmInstanceUuid: ctx.uuid, destHostUuid: target.hostUuid, destHostManagementIp: await managementIp(db, target.hostUuid),
      }, MIGRATE_CALL);
    },
    async rollback(ctx, env) {
      if (!ctx.migrateSent || !ctx.target) return;
      const db = env.services.db!;
      const agent = { db, ...deps };
      const r = await callHostAgent<AgentResponse & { states?: Record<string, string>; arriving?: string[] }>(agent, ctx.target.hostUuid, VmAgentPaths.checkState, { vmInstanceUuids: [ctx.uuid] });
      if (r.arriving?.includes(ctx.uuid)) {
        await callHostAgent(agent, ctx.target.hostUuid, VmAgentPaths.migrateAbort, { vmInstanceUuid: ctx.uuid }, { sync: true });
        return;
      }
      if (!RUNS.has(r.states?.[ctx.uuid] ?? 'Stopped')) return;
      await callHostAgent(agent, ctx.target.hostUuid, VmAgentPaths.migrate, {
        vmInstanceUuid: ctx.uuid, destHostUuid: ctx.sourceHostUuid, destHostManagementIp: await managementIp(db, ctx.sourceHostUuid),
      }, MIGRATE_CALL);
    },
  };
}
