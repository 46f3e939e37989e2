import { StratoError, SysErrors } from '../../src/core/errors/index.ts';
import { isStepFailure, type FlowPlan, type FlowStep, type InsertionPoint, type PlanChain, type PlanNode, type PlanStep } from '../../src/core/flow/index.ts';
import type { ServiceModule } from '../../src/core/node-context.ts';

export type FailWhen = 'before' | 'after';

/** What `stepFailures` gives a test: where the next failure goes, and every step a chain has. */
export interface StepFailures {
  module: ServiceModule;
  /** The next run reaching this step path fails there: `before` its work, or `after` it (its own rollback then undoes it). */
  at: { path: string; when: FailWhen } | undefined;
  /** How many injected failures fired: a case whose step was skipped fired none. */
  fired: number;
  /** Every step path of a registered chain as this node runs it, inserted steps included, in run order. */
  stepsOf(chainName: string): string[];
  /** The message an injected failure carries. */
  message(path: string, when: FailWhen): string;
}

/**
 * Failure injection at every step of every chain, by path (`vm.start/mark-started`), without listing
 * the steps: the node's FlowRegistry resolves each chain as usual and this module wraps each step of
 * the resolved plan, so the real FlowEngine runs the real steps and rolls back for real. A test that
 * iterates `stepsOf(chain)` covers a step added tomorrow without being touched. A pass-through step is
 * inserted at each given insertion point so that plugins' places are covered too.
 *
 * @example
 *   const failures = stepFailures('test-vm-failures', [AfterVmStartHostAllocated]);
 *   startTestNode(kind, { modules: [failures.module] });
 *   failures.at = { path: 'vm.start/mark-started', when: 'after' };
 */
export function stepFailures(id: string, points: ReadonlyArray<InsertionPoint<any>> = []): StepFailures {
  let plan: ((chainName: string) => FlowPlan) | undefined;
  const control: StepFailures = {
    at: undefined,
    fired: 0,
    message: (path, when) => `injected failure ${when} ${path}`,
    stepsOf(chainName) {
      if (!plan) throw new Error(`${id} is not set up on a node yet`);
      return plan(chainName).leaves.map((l) => l.leaf.path);
    },
    module: {
      id,
      setup(ctx) {
        const flows = ctx.flows;
        for (const point of points) flows.insert(point, { name: `pass-${point.name.replace(/\./g, '-')}`, run() {}, rollback() {} });
        const resolve = flows.plan.bind(flows);
        const wrapped = new WeakMap<FlowPlan, FlowPlan>();
        flows.plan = (chain) => {
          const p = resolve(chain);
          let w = wrapped.get(p);
          if (!w) wrapped.set(p, (w = wrapPlan(p, control)));
          return w;
        };
        plan = (name) => {
          const chain = flows.getChain(name);
          if (!chain) throw new Error(`no chain ${name} is registered`);
          return flows.plan(chain);
        };
      },
    },
  };
  return control;
}

/** The same tree with every step wrapped; paths, order and rollbacks unchanged. */
function wrapPlan(p: FlowPlan, control: StepFailures): FlowPlan {
  const steps = new Map<string, PlanStep>();
  const leaves: Array<{ leaf: PlanStep; ancestors: PlanChain[] }> = [];
  const build = (node: PlanChain, ancestors: PlanChain[]): PlanChain => {
    const children: PlanNode[] = [];
    const copy: PlanChain = { kind: 'chain', path: node.path, chain: node.chain, children };
    const inner = [...ancestors, copy];
    for (const child of node.children) {
      if (child.kind === 'chain') {
        children.push(build(child, inner));
        continue;
      }
      const leaf: PlanStep = { kind: 'step', path: child.path, step: failing(child.step, child.path, control) };
      steps.set(child.path, leaf);
      leaves.push({ leaf, ancestors: inner });
      children.push(leaf);
    }
    return copy;
  };
  return { root: build(p.root, []), steps, leaves };
}

function failing<Ctx>(step: FlowStep<Ctx>, path: string, control: StepFailures): FlowStep<Ctx> {
  const fail = (when: FailWhen) => {
    if (control.at?.path !== path || control.at.when !== when) return;
    control.fired++;
    throw new StratoError(SysErrors.OPERATION_ERROR, control.message(path, when));
  };
  return {
    name: step.name,
    ...(step.skip ? { skip: (ctx: Ctx) => step.skip!(ctx) } : {}),
    async run(ctx, env) {
      fail('before');
      const r = await step.run(ctx, env);
      if (isStepFailure(r)) return r;
      fail('after');
    },
    rollback: (ctx, env) => step.rollback(ctx, env),
  };
}
