import { defineApi, P } from '../../core/api/define-api.ts';

/**
 * ZStack's APIRequestConsoleAccessMsg: a one-time, expiring token for a Running VM's console.
 * The reply is ZStack's ConsoleInventory (scheme, targetScheme, hostname, port, token, version)
 * plus Strato's `url` (the noVNC page) and `expiredDate`.
 */
export const RequestConsoleAccess = defineApi({
  name: 'RequestConsoleAccess', service: 'console', kind: 'async', method: 'POST', path: '/consoles',
  params: { vmInstanceUuid: P.uuid('the Running VM whose console to open') },
  resourceUuidParam: 'vmInstanceUuid',
  result: { inventory: 'ConsoleInventory' },
  description: "Get a one-time URL for a running VM's console (VNC in the browser through the management node)",
});

export const consoleApis = [RequestConsoleAccess];
