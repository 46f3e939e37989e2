import type { ApiRegistry } from '../core/api/api-registry.ts';
import { ApiCallHeaders, IdentityMessages, isAccountItself, isAdmin, type PermissionQuery } from '../contracts/identity.ts';
import type { Bus, Interceptor } from '../core/bus/index.ts';
import { IdentityErrors, StratoError } from '../core/errors/index.ts';
import type { SystemTagRegistry } from '../core/tag/index.ts';

/**
 * The one place permissions are checked, on the bus, for every API call before its handler runs —
 * never inside handlers: a call needs a caller; administrators may do everything; admin-only APIs
 * are refused to everybody else; an account may call the rest; a user is held to its policies,
 * which the identity service evaluates (`identity.CheckPermission`, Deny over Allow).
 * Messages services send on a call's behalf carry its caller and API id; admin-only APIs are refused
 * on those too, but policies are checked once, on the call's own message.
 */
export function permissionInterceptor(apis: ApiRegistry, bus: Bus): Interceptor {
  return {
    name: 'permission',
    beforeDeliver(msg) {
      if (!msg.apiId) return; // internal message sent by a service, not a user's API call
      const api = apis.find(msg.type);
      if (!api || api.noSession) return;
      const caller = msg.caller;
      if (!caller) throw new StratoError(IdentityErrors.INVALID_SESSION, `${msg.type} needs a session`);
      if (isAdmin(caller)) return;
      if (api.adminOnly) throw new StratoError(IdentityErrors.PERMISSION_DENIED, `${msg.type} is for administrators only`);
      if (isAccountItself(caller) || msg.headers[ApiCallHeaders.entry] !== '1') return;
      const body = msg.body as Record<string, unknown>;
      const query: PermissionQuery = { apiName: msg.type, resourceUuid: msg.resourceUuid, targetUserUuid: targetUserOf(msg.type, body, caller.userUuid) };
      return bus.call('identity', IdentityMessages.checkPermission, query).then(() => undefined);
    },
  };
}

/** The user a self-service API acts on (a user may change its own password and keys without a policy). */
function targetUserOf(apiName: string, body: Record<string, unknown>, callerUser: string): string | undefined {
  if (apiName === 'UpdateUser') return typeof body.uuid === 'string' ? body.uuid : callerUser;
  if (apiName === 'CreateAccessKey') return typeof body.userUuid === 'string' ? body.userUuid : undefined;
  return undefined;
}

export function systemTagInterceptor(apis: ApiRegistry, systemTags: SystemTagRegistry): Interceptor {
  return {
    name: 'system-tags',
    beforeDeliver(msg) {
      if (!msg.apiId) return;
      const api = apis.find(msg.type);
      if (!api?.create || !api.tagResourceType) return;
      const tags = (msg.body as { systemTags?: string[] }).systemTags ?? [];
      for (const tag of tags) systemTags.validate(api.tagResourceType, tag, { isAdmin: msg.caller?.accountType === 'SystemAdmin' });
    },
  };
}
