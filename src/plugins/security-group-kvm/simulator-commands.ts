import { SecurityGroupAgentPaths, type ApplySecurityGroupRulesCmd, type SecurityGroupNicTO, type SecurityGroupRuleTO } from '../../contracts/security-group.ts';
import type { ServiceModule } from '../../core/node-context.ts';
import { simulatorFleetOf, type SimulatedAgent } from '../simulator/index.ts';

/** What a simulated host holds for one member NIC: as a real host's chains would hold it. */
export interface SimulatedNicRules {
  nic: SecurityGroupNicTO;
  /** The rules of its groups, group by group in the NIC's order. */
  rules: SecurityGroupRuleTO[];
}

/** The security-group rules a simulated host holds, by tap name. */
export function securityGroupsOf(agent: SimulatedAgent): Record<string, SimulatedNicRules> {
  agent.state.securityGroups ??= {};
  return agent.state.securityGroups as Record<string, SimulatedNicRules>;
}

function applyTo(held: Record<string, SimulatedNicRules>, cmd: Partial<ApplySecurityGroupRulesCmd>): string[] {
  if (!Array.isArray(cmd.nics)) throw new Error('nics must be a list of NICs');
  const rules = cmd.rules ?? {};
  const applied: string[] = [];
  for (const nic of cmd.nics) {
    if (nic.actionCode === 'deleteChain') {
      delete held[nic.internalName];
      continue;
    }
    const missing = nic.securityGroupUuids.find((sg) => !Array.isArray(rules[sg]));
    if (missing) throw new Error(`the rules of security group ${missing} were not given`);
    held[nic.internalName] = { nic, rules: nic.securityGroupUuids.flatMap((sg) => rules[sg]) };
    applied.push(nic.internalName);
  }
  return applied;
}

/** `/securitygroup/*` on simulated hosts (load after the simulator plugin): they keep what a real host would realize. */
export const simulatorSecurityGroupPlugin: ServiceModule = {
  id: 'simulator-security-group',
  setup(ctx) {
    const fleet = simulatorFleetOf(ctx);
    fleet.defineCommand('host', SecurityGroupAgentPaths.applyRules, (cmd: Partial<ApplySecurityGroupRulesCmd>, agent) => ({ applied: applyTo(securityGroupsOf(agent), cmd) }));
    fleet.defineCommand('host', SecurityGroupAgentPaths.refreshRulesOnHost, (cmd: Partial<ApplySecurityGroupRulesCmd>, agent) => {
      const held: Record<string, SimulatedNicRules> = {};
      const applied = applyTo(held, cmd);
      agent.state.securityGroups = held;
      return { applied };
    });
    fleet.defineCommand('host', SecurityGroupAgentPaths.cleanupUnusedRules, () => ({ removed: [] }));
  },
};
