import { AfterZonePersisted, type CreateZoneCtx } from '../../src/contracts/zone.ts';
import type { FlowStep } from '../../src/core/flow/index.ts';
import type { ServiceModule } from '../../src/core/node-context.ts';

/**
 * Test-only plugins that make a zone creation wait, so a test can observe a job while it runs:
 * - a zone named `gated-*` waits at `AfterZonePersisted` until `gate.open()`;
 * - a zone named `slow-<ms>-*` sleeps that many milliseconds there.
 * Other zones pass straight through.
 */
export interface ZoneGate {
  module: ServiceModule;
  /** Releases every zone waiting at the gate (and those that arrive later, until `close`). */
  open(): void;
  close(): void;
  /** Resolves once a zone is waiting at the gate. */
  waiting(): Promise<void>;
}

export function zoneGate(): ZoneGate {
  let release!: () => void;
  let opened = new Promise<void>((r) => (release = r));
  let arrived!: () => void;
  let arrival = new Promise<void>((r) => (arrived = r));
  const step: FlowStep<CreateZoneCtx> = {
    name: 'test-gate-or-sleep',
    async run(ctx) {
      const slow = /^slow-(\d+)-/.exec(ctx.name);
      if (slow) await new Promise((r) => setTimeout(r, Number(slow[1])));
      if (ctx.name.startsWith('gated-')) {
        arrived();
        await opened;
      }
    },
    rollback() {},
  };
  return {
    module: { id: 'test-zone-gate', setup: (ctx) => ctx.flows.insert(AfterZonePersisted, step) },
    open: () => release(),
    close: () => {
      opened = new Promise<void>((r) => (release = r));
      arrival = new Promise<void>((r) => (arrived = r));
    },
    waiting: () => arrival,
  };
}
