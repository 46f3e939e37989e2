/**
 * Typed tokens for extension points, declared by the owner of the point (the service that calls it)
 * and imported by plugins that implement it. The type parameter is the implementation's shape.
 */

/** One implementation chosen by a type key (hypervisor type, primary storage type, L2 type...). */
export interface StrategyPoint<T> {
  readonly kind: 'strategy';
  readonly id: string;
  /** Phantom: carries T; never set. */
  readonly __impl?: T;
}

/** Every implementation called, in order (pre/before/after/failed hooks of an operation). */
export interface ObserverPoint<T> {
  readonly kind: 'observer';
  readonly id: string;
  readonly __impl?: T;
}

/**
 * @example
 *   export const HypervisorFactoryPoint = strategyPoint<HypervisorFactory>('host.hypervisorFactory');
 *   extensions.registerStrategy(HypervisorFactoryPoint, 'KVM', kvmFactory);
 *   const factory = extensions.strategy(HypervisorFactoryPoint, host.hypervisorType);
 */
export function strategyPoint<T>(id: string): StrategyPoint<T> {
  return Object.freeze({ kind: 'strategy' as const, id });
}

/**
 * @example
 *   export interface ZoneLifecycle { preDelete?(z: ZoneInventory): void | Promise<void>; afterDelete?(z: ZoneInventory): void }
 *   export const ZoneLifecyclePoint = observerPoint<ZoneLifecycle>('zone.lifecycle');
 *   extensions.registerObserver(ZoneLifecyclePoint, { preDelete: (z) => { if (busy(z)) throw new StratoError(...) } });
 *   await extensions.callVeto(ZoneLifecyclePoint, 'preDelete', zone);
 */
export function observerPoint<T>(id: string): ObserverPoint<T> {
  return Object.freeze({ kind: 'observer' as const, id });
}

type AnyFn = (...args: any[]) => unknown;

/** The names of T's (optional) methods: the hooks an observer may implement. */
export type HookName<T> = { [K in keyof T]-?: NonNullable<T[K]> extends AnyFn ? K : never }[keyof T] & string;

/** The arguments of hook K of T. */
export type HookArgs<T, K extends HookName<T>> = Parameters<Extract<NonNullable<T[K]>, AnyFn>>;
