import type { Logger } from 'pino';
import type { Interceptor, Message } from './message.ts';

/**
 * Logs every delivered message and its reply at debug level (id, service, type, resource, API id,
 * outcome and handling time). Bodies are left out unless `logBodies` is set: they may hold passwords.
 * Costs one level check per message when debug is off.
 *
 * @example
 *   bus.addInterceptor(createLoggingInterceptor(logger.child({ component: 'bus' })));
 */
export function createLoggingInterceptor(logger: Logger, opts: { logBodies?: boolean } = {}): Interceptor {
  const started = new WeakMap<Message, number>();
  return {
    name: 'logging',
    beforeDeliver(msg) {
      if (!logger.isLevelEnabled('debug')) return;
      started.set(msg, performance.now());
      logger.debug(
        { msgId: msg.id, service: msg.service, type: msg.type, resourceUuid: msg.resourceUuid, apiId: msg.apiId, timeLeftMs: msg.deadline - Date.now(), ...(opts.logBodies ? { body: msg.body } : {}) },
        'bus: deliver %s/%s',
        msg.service,
        msg.type,
      );
    },
    afterReply(msg, reply) {
      if (!logger.isLevelEnabled('debug')) return;
      const t0 = started.get(msg);
      const ms = t0 === undefined ? undefined : Math.round((performance.now() - t0) * 1000) / 1000;
      if (reply.success) {
        logger.debug({ msgId: msg.id, service: msg.service, type: msg.type, ms, ...(opts.logBodies ? { value: reply.value } : {}) }, 'bus: reply %s/%s ok', msg.service, msg.type);
      } else {
        logger.debug({ msgId: msg.id, service: msg.service, type: msg.type, ms, error: reply.error }, 'bus: reply %s/%s failed: %s', msg.service, msg.type, reply.error.code);
      }
    },
  };
}
