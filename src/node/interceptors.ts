import type { ApiRegistry } from '../core/api/api-registry.ts';
import type { Interceptor } from '../core/bus/index.ts';
import { IdentityErrors, StratoError } from '../core/errors/index.ts';
import type { SystemTagRegistry } from '../core/tag/index.ts';

/**
 * Checks done once, on the bus, for every API message — never inside handlers:
 * admin-only APIs are refused to normal accounts; system tags on creates must match a declared pattern.
 */
export function permissionInterceptor(apis: ApiRegistry): Interceptor {
  return {
    name: 'permission',
    beforeDeliver(msg) {
      if (!msg.apiId) return; // internal message sent by a service, not a user's API call
      const api = apis.find(msg.type);
      if (!api || api.noSession) return;
      if (!msg.caller) throw new StratoError(IdentityErrors.INVALID_SESSION, `${msg.type} needs a session`);
      if (api.adminOnly && msg.caller.accountType !== 'SystemAdmin') throw new StratoError(IdentityErrors.PERMISSION_DENIED, `${msg.type} is for administrators only`);
    },
  };
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
