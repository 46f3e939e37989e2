import { StratoError, SysErrors } from '../errors/index.ts';
import type { FlowChain, Insertable, InsertionPoint } from './chain.ts';
import { resolvePlan, type FlowPlan } from './plan.ts';

interface Insertion { element: Insertable<any>; order: number; seq: number }

/**
 * One per management node: the chains that can be journaled (recovery finds them by name) and the
 * steps plugins inserted at named insertion points.
 *
 * @example
 *   const flows = new FlowRegistry();
 *   flows.registerChain(createVmChain);
 *   flows.insert(BeforeInstantiate, applyDhcpStep, { order: 10 });   // from a plugin's setup()
 */
export class FlowRegistry {
  readonly #chains = new Map<string, FlowChain<any>>();
  readonly #insertions = new Map<string, Insertion[]>();
  #plans = new WeakMap<FlowChain<any>, FlowPlan>();
  #seq = 0;

  /** Make a chain known by name; required for journaled runs so a restarted node can roll them back. */
  registerChain(chain: FlowChain<any>): void {
    const existing = this.#chains.get(chain.name);
    if (existing === chain) return;
    if (existing) throw new StratoError(SysErrors.INTERNAL, `flow chain ${chain.name} is already registered`);
    this.#chains.set(chain.name, chain);
  }

  getChain(name: string): FlowChain<any> | undefined {
    return this.#chains.get(name);
  }

  chainNames(): string[] {
    return [...this.#chains.keys()];
  }

  /**
   * Insert a step (or a nested chain) at a named point of every chain declaring it. Lower `order`
   * runs first (default 0); equal orders keep registration order.
   */
  insert<Ctx>(point: InsertionPoint<Ctx> | string, element: Insertable<Ctx>, opts: { order?: number } = {}): void {
    const name = typeof point === 'string' ? point : point.name;
    const list = this.#insertions.get(name) ?? [];
    if (list.some((i) => i.element.name === element.name)) {
      throw new StratoError(SysErrors.INTERNAL, `a step named ${element.name} is already inserted at ${name}`);
    }
    list.push({ element, order: opts.order ?? 0, seq: this.#seq++ });
    list.sort((a, b) => a.order - b.order || a.seq - b.seq);
    this.#insertions.set(name, list);
    this.#plans = new WeakMap(); // insertions change what every chain resolves to
  }

  insertionsAt(point: string): readonly Insertable<any>[] {
    return (this.#insertions.get(point) ?? []).map((i) => i.element);
  }

  /** The chain resolved with current insertions; cached until the next insert. */
  plan(chain: FlowChain<any>): FlowPlan {
    let p = this.#plans.get(chain);
    if (!p) {
      p = resolvePlan(chain, (point) => this.insertionsAt(point));
      this.#plans.set(chain, p);
    }
    return p;
  }
}
