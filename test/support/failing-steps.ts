import { StratoError, SysErrors } from '../../src/core/errors/index.ts';
import type { InsertionPoint } from '../../src/core/flow/index.ts';
import type { ServiceModule } from '../../src/core/node-context.ts';

/**
 * A test-only plugin with a step at each given insertion point; the step fails when `at` names its
 * point, so a test can make a chain fail at any place plugins can reach and check its rollback.
 *
 * @example
 *   const failing = failingStepsAt('test-vm-create', [AfterVmPersisted, BeforeVmInstantiate]);
 *   startTestNode(kind, { modules: [failing.module] });
 *   failing.at = BeforeVmInstantiate.name;   // the next create fails there; `undefined` to stop
 */
export function failingStepsAt<Ctx>(id: string, points: ReadonlyArray<InsertionPoint<Ctx>>): { module: ServiceModule; at: string | undefined } {
  const control: { module: ServiceModule; at: string | undefined } = {
    at: undefined,
    module: {
      id,
      setup(ctx) {
        for (const point of points) {
          ctx.flows.insert(point, {
            name: `fail-${point.name.replace(/\./g, '-')}`,
            run() {
              if (control.at === point.name) throw new StratoError(SysErrors.OPERATION_ERROR, `injected failure at ${point.name}`);
            },
            rollback() {},
          });
        }
      },
    },
  };
  return control;
}
