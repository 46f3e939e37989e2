import { StratoError, SysErrors } from '../errors/index.ts';
import type { FlowStep } from './step.ts';

/**
 * A named place in a chain where plugins insert steps through `FlowRegistry.insert`, without touching
 * the chain's definition. The type parameter ties inserted steps to the chain's context type.
 */
export interface InsertionPoint<Ctx = unknown> {
  readonly kind: 'insertionPoint';
  readonly name: string;
  /** Phantom field carrying the context type; never set. */
  readonly __ctx?: (ctx: Ctx) => void;
}

/**
 * Declare an insertion point, usually as an exported constant beside the chain so plugins can import it.
 *
 * @example
 *   export const BeforeInstantiate = insertionPoint<CreateVmCtx>('vm.create.beforeInstantiate');
 */
export function insertionPoint<Ctx = unknown>(name: string): InsertionPoint<Ctx> {
  checkName(name, 'insertion point');
  return { kind: 'insertionPoint', name };
}

/** An ordered list of steps, nested chains and insertion points, declared as data. */
export interface FlowChain<Ctx> {
  readonly kind: 'chain';
  readonly name: string;
  readonly elements: readonly ChainElement<Ctx>[];
  /** Return true to pass over the whole chain (when nested). */
  skip?(ctx: Ctx): boolean;
}

export type ChainElement<Ctx> = FlowStep<Ctx> | FlowChain<Ctx> | InsertionPoint<Ctx>;

/** What a plugin may put at an insertion point: a step or a whole chain. */
export type Insertable<Ctx> = FlowStep<Ctx> | FlowChain<Ctx>;

/**
 * Declare a chain. Steps and nested chains must have distinct names inside one chain, because the
 * journal identifies executed steps by path (`outer/inner/step`).
 *
 * @example
 *   export const createVmChain = defineChain<CreateVmCtx>('vm.create', [
 *     allocateHost, allocateVolumes, BeforeInstantiate, createOnHypervisor,
 *   ]);
 */
export function defineChain<Ctx>(name: string, elements: readonly ChainElement<Ctx>[], opts: { skip?(ctx: Ctx): boolean } = {}): FlowChain<Ctx> {
  checkName(name, 'chain');
  const seen = new Set<string>();
  for (const e of elements) {
    const key = `${isInsertionPoint(e) ? 'point' : 'element'}:${e.name}`;
    if (!isInsertionPoint(e)) checkName(e.name, 'step');
    if (seen.has(key)) throw new StratoError(SysErrors.INTERNAL, `chain ${name} declares ${e.name} twice`);
    seen.add(key);
    if (!isInsertionPoint(e) && !isChain(e) && typeof (e as FlowStep<Ctx>).rollback !== 'function') {
      throw new StratoError(SysErrors.INTERNAL, `step ${name}/${e.name} has no rollback: give one or say noRollback`);
    }
  }
  return Object.freeze({ kind: 'chain' as const, name, elements: Object.freeze([...elements]), ...(opts.skip ? { skip: opts.skip } : {}) });
}

export function isChain(e: unknown): e is FlowChain<any> {
  return typeof e === 'object' && e !== null && (e as FlowChain<unknown>).kind === 'chain';
}

export function isInsertionPoint(e: unknown): e is InsertionPoint<any> {
  return typeof e === 'object' && e !== null && (e as InsertionPoint).kind === 'insertionPoint';
}

function checkName(name: string, what: string): void {
  // '/' separates path segments in the journal.
  if (typeof name !== 'string' || name.length === 0 || name.includes('/')) {
    throw new StratoError(SysErrors.INTERNAL, `invalid ${what} name '${String(name)}': non-empty, without '/'`);
  }
}
