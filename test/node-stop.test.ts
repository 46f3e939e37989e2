import { describe, expect, it } from 'vitest';
import { startTestNode } from './support/test-node.ts';
import { zoneGate } from './support/rest-test-modules.ts';

describe('stopping a node', () => {
  it('does not hang on an api job that never finishes: it waits for the drain timeout, then closes', async () => {
    const gate = zoneGate();
    const t = await startTestNode('sqlite', { modules: [gate.module], node: { drainTimeoutMs: 300 } });
    try {
      const c = await t.login();
      const first = await c.raw('POST', '/zones', { params: { name: 'gated-forever' } });
      expect(first.status).toBe(202);
      await gate.waiting();
      const started = Date.now();
      await t.node.stop();
      const took = Date.now() - started;
      expect(took).toBeGreaterThanOrEqual(250);
      expect(took).toBeLessThan(5000);
    } finally {
      gate.open(); // let the stuck flow end so the process has nothing pending
      await t.db.drop();
    }
  });
});
