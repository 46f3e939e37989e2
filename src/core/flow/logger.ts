import pino from 'pino';

/**
 * The subset of pino's Logger the core framework needs; pass the node's pino logger (or a child of it).
 * Kept minimal so tests can capture log lines with a plain object.
 */
export interface CoreLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** A pino logger to stderr, used when a component is built without one: errors must never vanish silently. */
export function defaultLogger(name: string): CoreLogger {
  return pino({ name, level: process.env.STRATO_LOG_LEVEL ?? 'info' }, pino.destination(2));
}
