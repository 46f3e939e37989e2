import { HttpRoutesPoint } from '../../contracts/http-routes.ts';
import { serviceFromHandlers } from '../../core/bus/index.ts';
import type { ServiceModule } from '../../core/node-context.ts';
import { consoleApis } from './apis.ts';
import { ConsoleTokens } from './console-tokens.ts';
import { consoleHandlers } from './handlers.ts';
import { mountConsoleRoutes } from './routes.ts';
import { consoleMigration } from './schema.ts';
import { ConsoleProxy } from './websocket-proxy.ts';

/**
 * VM consoles (ZStack's console service): RequestConsoleAccess issues a one-time, expiring token;
 * the node's `/console/ws?token=…` websocket carries the VM's VNC through the hypervisor's console
 * backend (KVM: the host agent's relay); `/console/vnc.html?token=…` is noVNC on that websocket.
 */
export const consoleService: ServiceModule = {
  id: 'console',
  migrations: [consoleMigration],
  apis: consoleApis,
  setup(ctx) {
    const tokenTtlSeconds = ctx.config.define({ category: 'console', name: 'tokenTtlSeconds', type: 'number', defaultValue: 120, min: 5, max: 86400, description: 'seconds a console URL (RequestConsoleAccess) stays usable; it opens one connection' });
    const overriddenIp = ctx.config.define({ category: 'console', name: 'proxy.overriddenIp', type: 'string', defaultValue: '', description: "the address put in console URLs instead of the management node's own (a NAT or load balancer in front of the nodes)" });
    const tokens = new ConsoleTokens(ctx.db);
    const proxy = new ConsoleProxy({ db: ctx.db, extensions: ctx.extensions, tokens, log: ctx.log.child({ component: 'console' }), openTimeoutMs: 15_000, metrics: ctx.metrics });
    ctx.bus.registerService(serviceFromHandlers('console', consoleHandlers(ctx, tokens, { tokenTtlSeconds, overriddenIp })));
    ctx.extensions.registerObserver(HttpRoutesPoint, { mount: (app) => mountConsoleRoutes(app, proxy) }, { by: 'console' });
  },
};
