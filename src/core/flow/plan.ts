import { StratoError, SysErrors } from '../errors/index.ts';
import { isChain, isInsertionPoint, type FlowChain, type Insertable } from './chain.ts';
import type { FlowStep } from './step.ts';

/** A chain resolved against the registry's insertions: the tree that actually runs, with every step's path. */
export interface PlanStep { readonly kind: 'step'; readonly path: string; readonly step: FlowStep<any> }
export interface PlanChain { readonly kind: 'chain'; readonly path: string; readonly chain: FlowChain<any>; readonly children: readonly PlanNode[] }
export type PlanNode = PlanStep | PlanChain;

export interface FlowPlan {
  readonly root: PlanChain;
  /** Every step by path, for rollback by journaled path. */
  readonly steps: ReadonlyMap<string, PlanStep>;
  /** Steps in run order with the chains enclosing each (outermost first). */
  readonly leaves: readonly { readonly leaf: PlanStep; readonly ancestors: readonly PlanChain[] }[];
}

/**
 * Resolve a chain into its run tree. Steps inserted at point P of chain C get the path `C/P/step`,
 * so plugins never collide with the chain's own step names or with each other's points.
 */
export function resolvePlan(chain: FlowChain<any>, insertionsAt: (point: string) => readonly Insertable<any>[]): FlowPlan {
  const steps = new Map<string, PlanStep>();
  const leaves: { leaf: PlanStep; ancestors: PlanChain[] }[] = [];

  const build = (c: FlowChain<any>, path: string, ancestors: PlanChain[], stack: FlowChain<any>[]): PlanChain => {
    if (stack.includes(c)) throw new StratoError(SysErrors.INTERNAL, `flow chain ${c.name} contains itself (at ${path})`);
    const children: PlanNode[] = [];
    const node: PlanChain = { kind: 'chain', path, chain: c, children };
    const inner = [...ancestors, node];
    const add = (e: Insertable<any>, prefix: string): void => {
      const p = `${prefix}/${e.name}`;
      if (isChain(e)) {
        children.push(build(e, p, inner, [...stack, c]));
        return;
      }
      if (steps.has(p)) throw new StratoError(SysErrors.INTERNAL, `two flow steps share the path ${p}`);
      const leaf: PlanStep = { kind: 'step', path: p, step: e };
      steps.set(p, leaf);
      leaves.push({ leaf, ancestors: inner });
      children.push(leaf);
    };
    for (const e of c.elements) {
      if (isInsertionPoint(e)) for (const ins of insertionsAt(e.name)) add(ins, `${path}/${e.name}`);
      else add(e, path);
    }
    return node;
  };

  const root = build(chain, chain.name, [], []);
  return { root, steps, leaves };
}

/**
 * After a crash: which step was running? The first step after the last journaled one that would not
 * have been skipped given the journaled ctx (the ctx that step saw when it started). Undefined when the
 * chain had finished every step but was not yet marked Done.
 */
export function findInterruptedStep(plan: FlowPlan, executed: readonly string[], ctx: unknown): PlanStep | undefined {
  const last = executed.at(-1);
  let start = 0;
  if (last !== undefined) {
    start = plan.leaves.findIndex((l) => l.leaf.path === last) + 1;
    if (start === 0) return undefined;
  }
  for (let i = start; i < plan.leaves.length; i++) {
    const { leaf, ancestors } = plan.leaves[i];
    // Chains already entered were not skipped; chains not yet entered would test skip with this ctx.
    const skippedChain = ancestors.some((a) => (last === undefined || !last.startsWith(`${a.path}/`)) && safeSkip(a.chain.skip, ctx));
    if (skippedChain || safeSkip(leaf.step.skip, ctx)) continue;
    return leaf;
  }
  return undefined;
}

// A skip test that throws during recovery counts as "not skipped": rolling back a step that never ran is harmless.
function safeSkip(skip: ((ctx: any) => boolean) | undefined, ctx: unknown): boolean {
  if (!skip) return false;
  try {
    return skip(ctx) === true;
  } catch {
    return false;
  }
}
