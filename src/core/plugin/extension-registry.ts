import { StratoError, SysErrors } from '../errors/index.ts';
import { defaultLogger, type CoreLogger } from '../flow/logger.ts';
import type { HookArgs, HookName, ObserverPoint, StrategyPoint } from './extension-point.ts';

interface ObserverEntry { impl: unknown; order: number; seq: number; by?: string }
interface StrategyEntry { impl: unknown; by?: string }

/**
 * The extensions of one management node (no globals: several nodes may share a test process).
 * Strategy points map a type key to one implementation; observer points keep every implementation,
 * sorted by `order` (lower first, default 0), then by registration order.
 *
 * @example
 *   const extensions = new ExtensionRegistry({ log });
 *   extensions.registerStrategy(HypervisorFactoryPoint, 'KVM', kvmFactory, { by: 'kvm' });
 *   extensions.registerObserver(ZoneLifecyclePoint, quotaChecker, { order: -10, by: 'quota' });
 */
export class ExtensionRegistry {
  readonly #kinds = new Map<string, 'strategy' | 'observer'>();
  readonly #strategies = new Map<string, Map<string, StrategyEntry>>();
  readonly #observers = new Map<string, ObserverEntry[]>();
  readonly #log: CoreLogger;
  #seq = 0;

  constructor(opts: { log?: CoreLogger } = {}) {
    this.#log = opts.log ?? defaultLogger('strato.extensions');
  }

  /** Register the implementation for `key`; a second one for the same key is a configuration error. */
  registerStrategy<T>(point: StrategyPoint<T>, key: string, impl: T, opts: { by?: string } = {}): void {
    this.#claim(point.id, 'strategy');
    const map = this.#strategies.get(point.id) ?? new Map<string, StrategyEntry>();
    const existing = map.get(key);
    if (existing) {
      throw new StratoError(SysErrors.INTERNAL, `${point.id} already has an implementation for '${key}'${existing.by ? ` (from ${existing.by})` : ''}${opts.by ? `; ${opts.by} registered another` : ''}`);
    }
    map.set(key, { impl, by: opts.by });
    this.#strategies.set(point.id, map);
  }

  /** The implementation for `key`, or SYS.1013 naming the key and the known keys. */
  strategy<T>(point: StrategyPoint<T>, key: string): T {
    const e = this.#strategies.get(point.id)?.get(key);
    if (!e) {
      const known = this.strategyKeys(point);
      throw new StratoError(SysErrors.NO_CAPABILITY_ERROR, `no ${point.id} implementation for '${key}'; known: ${known.length ? known.join(', ') : 'none'}`);
    }
    return e.impl as T;
  }

  findStrategy<T>(point: StrategyPoint<T>, key: string): T | undefined {
    return this.#strategies.get(point.id)?.get(key)?.impl as T | undefined;
  }

  strategyKeys<T>(point: StrategyPoint<T>): string[] {
    return [...(this.#strategies.get(point.id)?.keys() ?? [])];
  }

  registerObserver<T>(point: ObserverPoint<T>, impl: T, opts: { order?: number; by?: string } = {}): void {
    this.#claim(point.id, 'observer');
    const list = this.#observers.get(point.id) ?? [];
    list.push({ impl, order: opts.order ?? 0, seq: this.#seq++, by: opts.by });
    list.sort((a, b) => a.order - b.order || a.seq - b.seq);
    this.#observers.set(point.id, list);
  }

  observers<T>(point: ObserverPoint<T>): readonly T[] {
    return (this.#observers.get(point.id) ?? []).map((e) => e.impl as T);
  }

  /**
   * Call a `pre*` hook on every observer, in order, awaiting each; the first that throws vetoes the
   * operation: its StratoError is rethrown as is (its code reaches the API), anything else becomes
   * SYS.1006 naming the point, the hook and who refused.
   */
  async callVeto<T, K extends HookName<T>>(point: ObserverPoint<T>, hook: K, ...args: HookArgs<T, K>): Promise<void> {
    for (const e of this.#observers.get(point.id) ?? []) {
      const fn = (e.impl as Record<string, unknown>)[hook];
      if (typeof fn !== 'function') continue;
      try {
        await fn.apply(e.impl, args);
      } catch (err) {
        if (err instanceof StratoError) throw err;
        throw new StratoError(SysErrors.OPERATION_ERROR, `${point.id}.${hook} refused${e.by ? ` by ${e.by}` : ''}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
    }
  }

  /**
   * Call a `before*`/`after*`/`failed*` hook on every observer, in order, awaiting each. Errors are
   * logged and never change the outcome of the operation, nor stop the other observers.
   */
  async callSafe<T, K extends HookName<T>>(point: ObserverPoint<T>, hook: K, ...args: HookArgs<T, K>): Promise<void> {
    for (const e of this.#observers.get(point.id) ?? []) {
      const fn = (e.impl as Record<string, unknown>)[hook];
      if (typeof fn !== 'function') continue;
      try {
        await fn.apply(e.impl, args);
      } catch (err) {
        this.#log.error({ err, point: point.id, hook, by: e.by }, 'extension hook failed; ignored');
      }
    }
  }

  #claim(id: string, kind: 'strategy' | 'observer'): void {
    const k = this.#kinds.get(id);
    if (k && k !== kind) throw new StratoError(SysErrors.INTERNAL, `extension point ${id} is a ${k} point, not a ${kind} point`);
    this.#kinds.set(id, kind);
  }
}
