import { observerPoint } from '../core/plugin/index.ts';

/**
 * Who can vouch for an agent's reports: whoever issued the agent its token. The node's sendcommand
 * route asks every resolver for the token of the uuid a report is signed as (a host's, a backup
 * storage's) and refuses the report unless one knows it and the signature matches
 * (core/agent/report-signature.ts).
 *
 * @example
 *   ctx.extensions.registerObserver(AgentTokenResolverPoint, { tokenOf: async (uuid) => (await db.selectFrom('host').select('agentToken').where('uuid', '=', uuid).executeTakeFirst())?.agentToken });
 */
export interface AgentTokenResolver {
  tokenOf(agentUuid: string): Promise<string | undefined>;
}

export const AgentTokenResolverPoint = observerPoint<AgentTokenResolver>('agent.tokenResolver');
