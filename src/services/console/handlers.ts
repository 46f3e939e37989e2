import type { ApiParams } from '../../core/api/define-api.ts';
import type { Message } from '../../core/bus/index.ts';
import type { ConfigHandle } from '../../core/config/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import type { RequestConsoleAccess } from './apis.ts';
import { consoleTargetOf } from './console-target.ts';
import type { ConsoleTokens } from './console-tokens.ts';
import { CONSOLE_PAGE_PATH } from './routes.ts';

/** ZStack's ConsoleInventory, plus Strato's `url` (the noVNC page) and `expiredDate`. */
export interface ConsoleInventory {
  scheme: 'http';
  targetScheme: 'vnc';
  hostname: string;
  port: number;
  token: string;
  version: string | null;
  url: string;
  expiredDate: string;
}

export interface ConsoleConfig {
  tokenTtlSeconds: ConfigHandle<number>;
  overriddenIp: ConfigHandle<string>;
}

export function consoleHandlers(ctx: NodeContext, tokens: ConsoleTokens, config: ConsoleConfig) {
  /** Where browsers reach this node: its advertised address (or the configured override) and port. */
  const proxyAddress = async (): Promise<{ hostname: string; port: number }> => {
    const me = await ctx.db.selectFrom('management_node').select(['hostName', 'port']).where('uuid', '=', ctx.nodeUuid).executeTakeFirst();
    return { hostname: config.overriddenIp.get() || String(me?.hostName ?? '127.0.0.1'), port: Number(me?.port ?? 8080) };
  };

  return {
    async RequestConsoleAccess(msg: Message<ApiParams<typeof RequestConsoleAccess>>): Promise<ConsoleInventory> {
      const { vmInstanceUuid } = msg.body;
      // A tenant's call on another account's VM arrives here with a uuid that names nothing (ownership interceptor).
      await consoleTargetOf(ctx.db, ctx.extensions, vmInstanceUuid);
      const { token, expiryDate } = await tokens.issue(vmInstanceUuid, msg.caller?.accountUuid, config.tokenTtlSeconds.get() * 1000);
      const { hostname, port } = await proxyAddress();
      const host = hostname.includes(':') ? `[${hostname}]` : hostname;
      return {
        scheme: 'http', targetScheme: 'vnc', hostname, port, token, version: null,
        url: `http://${host}:${port}${CONSOLE_PAGE_PATH}?token=${token}`,
        expiredDate: new Date(expiryDate).toISOString(),
      };
    },
  };
}
