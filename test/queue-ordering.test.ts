import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import type { ServiceModule } from '../src/core/node-context.ts';
import { createZone, waitFor } from './support/integration.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';

interface QueueEvent {
  sig: string;
  seq: number;
  kind: 'start' | 'end';
  description?: string;
}

/**
 * Test-only module that watches the node's work queues: it wraps `queues.submit` to number tasks in
 * submission order per signature and record when each starts and ends (with the description an
 * UpdateZone task wrote), and can hold a queue's next task at a gate.
 */
function queueRecorder() {
  const events: QueueEvent[] = [];
  const seqs = new Map<string, number>();
  const gates = new Map<string, Promise<void>>();
  const module: ServiceModule = {
    id: 'test.queue-recorder',
    setup(ctx) {
      const queues = ctx.queues as { submit: (sig: string, task: () => Promise<unknown>, opts?: unknown) => Promise<unknown> };
      const original = queues.submit.bind(queues);
      queues.submit = (sig, task, opts) => {
        const seq = seqs.get(sig) ?? 0;
        seqs.set(sig, seq + 1);
        return original(sig, async () => {
          events.push({ sig, seq, kind: 'start' });
          const gate = gates.get(sig);
          if (gate) {
            gates.delete(sig);
            await gate;
          }
          const result = (await task()) as { description?: string } | undefined;
          events.push({ sig, seq, kind: 'end', description: result?.description ?? undefined });
          return result;
        }, opts);
      };
    },
  };
  return {
    module,
    events,
    /** The next task started in `sig` waits until the returned function is called. */
    hold(sig: string): () => void {
      let open!: () => void;
      gates.set(sig, new Promise<void>((r) => (open = r)));
      return () => open();
    },
    /** Events of `sig` for tasks submitted from now on (the zone's own creation ran in its queue too). */
    of: (sig: string, fromSeq = 0) => events.filter((e) => e.sig === sig && e.seq >= fromSeq),
    nextSeq: (sig: string) => seqs.get(sig) ?? 0,
  };
}

describe.each(testDatabaseKinds())('per-resource queue ordering through the API on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  const rec = queueRecorder();

  beforeAll(async () => {
    t = await startTestNode(kind, { modules: [rec.module] });
    c = await t.login();
  });
  afterAll(async () => t?.stop());

  /** Asserts that a queue ran its tasks one at a time, in submission order. */
  function expectSerialInOrder(sig: string, fromSeq = 0): QueueEvent[] {
    const ev = rec.of(sig, fromSeq);
    for (let i = 0; i < ev.length; i += 2) {
      expect(ev[i], `${sig} event ${i}`).toMatchObject({ kind: 'start' });
      expect(ev[i + 1], `${sig} event ${i + 1}`).toMatchObject({ kind: 'end', seq: ev[i].seq });
    }
    const order = ev.filter((e) => e.kind === 'end').map((e) => e.seq);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    return ev.filter((e) => e.kind === 'end');
  }

  it('runs 30 updates of one zone, submitted one after another, in submission order, while another zone proceeds', async () => {
    const zone = await createZone(c, 'ordered');
    const other = await createZone(c, 'parallel');
    const sig = `zone-${zone.uuid}`;
    const firstSeq = rec.nextSeq(sig);
    const release = rec.hold(sig);
    const locations: string[] = [];
    try {
      for (let i = 0; i < 30; i++) {
        const r = await c.raw('PUT', `/zones/${zone.uuid}/actions`, { updateZone: { description: String(i) } });
        expect(r.status).toBe(202);
        locations.push(r.body.location);
      }
      await waitFor('the first update to reach the gate', () => rec.of(sig, firstSeq).some((e) => e.kind === 'start'));
      // The zone's queue is held: an update of another zone still completes.
      const done = await c.call('PUT', `/zones/${other.uuid}/actions`, { updateZone: { description: 'not blocked' } });
      expect(done.inventory.description).toBe('not blocked');
      expect(rec.of(sig, firstSeq).filter((e) => e.kind === 'end')).toEqual([]);
      expect(rec.of(sig, firstSeq).filter((e) => e.kind === 'start')).toHaveLength(1); // one at a time: the rest wait behind the gate
    } finally {
      release();
    }
    const results = await Promise.all(locations.map((l) => c.poll(l)));
    expect(results.map((r) => r.status)).toEqual(locations.map(() => 200));
    const ended = expectSerialInOrder(sig, firstSeq);
    expect(ended.map((e) => e.description)).toEqual(Array.from({ length: 30 }, (_, i) => String(i)));
    const row = await t.node.ctx.db.selectFrom('zone').select('description').where('uuid', '=', zone.uuid).executeTakeFirstOrThrow();
    expect(row.description).toBe('29');
  });

  it('runs 30 concurrent updates of one zone one at a time in queue order, and the last one queued wins', async () => {
    const zone = await createZone(c, 'concurrent');
    const sig = `zone-${zone.uuid}`;
    const firstSeq = rec.nextSeq(sig);
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => c.send('PUT', `/zones/${zone.uuid}/actions`, { updateZone: { description: String(i) } })));
    expect(results.map((r) => r.status)).toEqual(results.map(() => 200));
    const ended = expectSerialInOrder(sig, firstSeq);
    expect(ended).toHaveLength(30);
    expect(new Set(ended.map((e) => e.description)).size).toBe(30);
    const row = await t.node.ctx.db.selectFrom('zone').select('description').where('uuid', '=', zone.uuid).executeTakeFirstOrThrow();
    expect(row.description).toBe(ended[ended.length - 1].description);
  });

  it('runs updates of different zones in parallel: one held queue does not delay the others', async () => {
    const zones = await Promise.all([0, 1, 2, 3].map((i) => createZone(c, `par-${i}`)));
    const sig = `zone-${zones[0].uuid}`;
    const firstSeq = rec.nextSeq(sig);
    const release = rec.hold(sig);
    const held = c.send('PUT', `/zones/${zones[0].uuid}/actions`, { updateZone: { description: 'held' } });
    try {
      await waitFor('the held update to start', () => rec.of(sig, firstSeq).some((e) => e.kind === 'start'));
      const others = await Promise.all(zones.slice(1).map((z, i) => c.send('PUT', `/zones/${z.uuid}/actions`, { updateZone: { description: `free-${i}` } })));
      expect(others.map((r) => r.status)).toEqual([200, 200, 200]);
      expect(rec.of(sig, firstSeq).some((e) => e.kind === 'end')).toBe(false);
    } finally {
      release();
    }
    expect((await held).body.inventory.description).toBe('held');
  });

  it('creates 50 clusters concurrently in one zone: all succeed with distinct uuids', async () => {
    const zone = await createZone(c, 'busy');
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => c.send('POST', '/clusters', { params: { zoneUuid: zone.uuid, name: `cl-${i}`, hypervisorType: 'KVM' } })));
    expect(results.filter((r) => r.status !== 200).map((r) => r.text)).toEqual([]);
    const uuids = results.map((r) => r.body.inventory.uuid);
    expect(new Set(uuids).size).toBe(50);
    expect(new Set(results.map((r) => r.body.inventory.name)).size).toBe(50);
    const count = await c.call('GET', `/clusters?q=${encodeURIComponent(`zoneUuid=${zone.uuid}`)}&count=true`);
    expect(count.total).toBe(50);
    expectSerialInOrder(`zone-${zone.uuid}`);
  });
});
