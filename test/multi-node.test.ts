import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterLifecyclePoint } from '../src/contracts/cluster.ts';
import { AfterZonePersisted, ZoneLifecyclePoint, type CreateZoneCtx } from '../src/contracts/zone.ts';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { IdentityErrors, SysErrors } from '../src/core/errors/index.ts';
import { noRollback, type FlowStep } from '../src/core/flow/index.ts';
import type { ServiceModule } from '../src/core/node-context.ts';
import { newUuid } from '../src/core/util/uuid.ts';
import { ManagementNode } from '../src/node/management-node.ts';
import { createCluster, createZone, loginAt, waitFor } from './support/integration.ts';
import { startTestNode, TestClient, type TestNode } from './support/test-node.ts';

interface Recorded {
  what: string;
  node: string;
  uuid?: string;
  value?: unknown;
}

/**
 * Test-only module loaded on both nodes: records on which node zone and cluster hooks and a config
 * observer run, and blocks zone creation forever for names starting with `block` (on the node that runs it).
 */
function recorderModule(log: Recorded[]): ServiceModule {
  return {
    id: 'test.multi-node-recorder',
    setup(ctx) {
      const me = ctx.nodeUuid;
      ctx.extensions.registerObserver(ZoneLifecyclePoint, {
        preChangeState: (zone) => void log.push({ what: 'zone.preChangeState', node: me, uuid: zone.uuid }),
        preDelete: (zone) => void log.push({ what: 'zone.preDelete', node: me, uuid: zone.uuid }),
      });
      ctx.extensions.registerObserver(ClusterLifecyclePoint, {
        afterDelete: (cluster) => void log.push({ what: 'cluster.afterDelete', node: me, uuid: cluster.uuid }),
      });
      const setting = ctx.config.define({ category: 'test', name: 'multi.value', type: 'number', defaultValue: 1, description: 'test only' });
      setting.onChange((value) => void log.push({ what: 'config', node: me, value }));
      const block: FlowStep<CreateZoneCtx> = {
        name: 'test.block-forever',
        async run(c) {
          if (!c.name.startsWith('block')) return;
          log.push({ what: 'blocked', node: me, uuid: c.uuid });
          await new Promise<never>(() => undefined);
        },
        rollback: noRollback,
      };
      ctx.flows.insert(AfterZonePersisted, block);
    },
  };
}

const hasMysql = testDatabaseKinds().includes('mysql');

describe.skipIf(!hasMysql)('two management nodes on one MariaDB database', () => {
  let t: TestNode;
  let a: ManagementNode;
  let b: ManagementNode;
  let ca: TestClient;
  let cb: TestClient;
  const log: Recorded[] = [];
  let bCrashed = false;

  /** A fresh uuid that both nodes' rings map to `node`. */
  function uuidOwnedBy(node: ManagementNode): string {
    for (;;) {
      const u = newUuid();
      if (a.ctx.bus.ownerOf(u) === node.nodeUuid && b.ctx.bus.ownerOf(u) === node.nodeUuid) return u;
    }
  }

  beforeAll(async () => {
    t = await startTestNode('mysql', { modules: [recorderModule(log)] });
    a = t.node;
    b = await ManagementNode.start({ dbUrl: t.db.url, port: 0, host: '127.0.0.1', logger: pino({ level: process.env.STRATO_TEST_LOG ?? 'silent' }), modules: [recorderModule(log)] });
    await a.refreshPeers(); // A booted alone; B found A in the table when it joined
    ca = await t.login();
    cb = await loginAt(b.url);
  });
  afterAll(async () => {
    if (b && !bCrashed) await b.stop();
    else if (b) {
      // B "crashed" with a flow blocked forever: stop() would wait for that api job, so release what a dead process would.
      b.ctx.bus.close();
      await b.ctx.database.close();
    }
    await t?.stop();
  });

  it('each node lists the other as a peer and both rings agree on owners', () => {
    expect(a.ctx.bus.listPeers().map((p) => p.uuid)).toEqual([b.nodeUuid]);
    expect(b.ctx.bus.listPeers().map((p) => p.uuid)).toEqual([a.nodeUuid]);
    expect(a.ctx.bus.listPeers()[0].url).toBe(b.url);
    const owners = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const u = newUuid();
      expect(a.ctx.bus.ownerOf(u)).toBe(b.ctx.bus.ownerOf(u));
      owners.add(a.ctx.bus.ownerOf(u));
    }
    expect(owners).toEqual(new Set([a.nodeUuid, b.nodeUuid]));
  });

  it('runs a zone operation sent to node A on node B when B owns the zone, and the other way round', async () => {
    for (const [owner, other, client] of [[b, a, ca], [a, b, cb]] as const) {
      const zone = await createZone(client, `routed-${owner.nodeUuid.slice(0, 6)}`, { resourceUuid: uuidOwnedBy(owner) });
      await client.call('PUT', `/zones/${zone.uuid}/actions`, { changeZoneState: { stateEvent: 'disable' } });
      const ran = log.filter((r) => r.what === 'zone.preChangeState' && r.uuid === zone.uuid);
      expect(ran.map((r) => r.node)).toEqual([owner.nodeUuid]);
      expect(ran.map((r) => r.node)).not.toContain(other.nodeUuid);
    }
  });

  it('cascades a zone deletion to clusters owned by either node, each deleted on its owner', async () => {
    const zone = await createZone(ca, 'cascade-across', { resourceUuid: uuidOwnedBy(b) });
    const clusters = [await createCluster(ca, zone.uuid, 'on-a', { resourceUuid: uuidOwnedBy(a) }), await createCluster(cb, zone.uuid, 'on-b', { resourceUuid: uuidOwnedBy(b) })];
    expect((await ca.send('DELETE', `/zones/${zone.uuid}`)).status).toBe(200);
    expect(log.filter((r) => r.what === 'zone.preDelete' && r.uuid === zone.uuid).map((r) => r.node)).toEqual([b.nodeUuid]);
    for (const cl of clusters) {
      expect(log.filter((r) => r.what === 'cluster.afterDelete' && r.uuid === cl.uuid).map((r) => r.node)).toEqual([a.ctx.bus.ownerOf(cl.uuid)]);
    }
    expect(await a.ctx.db.selectFrom('cluster').select('uuid').where('zoneUuid', '=', zone.uuid).execute()).toEqual([]);
  });

  it("delivers a global config change made on node A to node B's observers", async () => {
    await ca.call('PUT', '/global-configurations/test/multi.value/actions', { updateGlobalConfig: { value: '42' } });
    await waitFor('node B to observe the change', () => log.some((r) => r.what === 'config' && r.node === b.nodeUuid && r.value === 42));
    expect(b.ctx.config.get('test', 'multi.value')).toBe(42);
    expect(log.filter((r) => r.what === 'config').map((r) => r.node).sort()).toEqual([a.nodeUuid, b.nodeUuid].sort());
  });

  it('refuses on node B, at once, a session logged out on node A', async () => {
    const s = await loginAt(a.url);
    const onB = new TestClient(b.url, s.session);
    expect((await onB.raw('GET', '/zones?limit=1')).status).toBe(200); // B has the session in its cache now
    expect((await s.raw('DELETE', `/accounts/sessions/${s.session}`)).status).toBe(200);
    const refused = await onB.raw('GET', '/zones?limit=1');
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe(IdentityErrors.INVALID_SESSION.code);
  });

  it('answers on node B the poll of an api job created on node A', async () => {
    const first = await ca.raw('POST', '/zones', { params: { name: 'polled-elsewhere' } });
    expect(first.status).toBe(202);
    const path = new URL(first.body.location).pathname;
    const done = await cb.poll(`${b.url}${path}`);
    expect(done.status).toBe(200);
    expect(done.body.inventory.name).toBe('polled-elsewhere');
  });

  it('fences a silent node B and rolls back its running flow on node A; its api job fails with SYS.1012', async () => {
    expect(await a.heartbeat(60_000)).toBe(true);
    expect(a.ctx.bus.listPeers()).toHaveLength(1); // a fresh heartbeat is not fenced

    const zoneUuid = uuidOwnedBy(b);
    const accepted = await cb.raw('POST', '/zones', { params: { name: 'block-on-b', resourceUuid: zoneUuid }, userTags: ['left-behind'] });
    expect(accepted.status).toBe(202);
    await waitFor('the flow to block on node B', () => log.some((r) => r.what === 'blocked' && r.uuid === zoneUuid));
    expect(log.find((r) => r.what === 'blocked' && r.uuid === zoneUuid)!.node).toBe(b.nodeUuid);
    const db = a.ctx.db;
    expect(await db.selectFrom('flow_journal').select(['state', 'nodeUuid']).where('resourceUuid', '=', zoneUuid).execute()).toEqual([{ state: 'Running', nodeUuid: b.nodeUuid }]);

    // B dies as a crashed process would: no more heartbeats, no API, its row left in the table.
    bCrashed = true;
    (b as unknown as { stopTasks(): void }).stopTasks();
    b.app.server.close();
    b.app.server.closeAllConnections();

    await new Promise((r) => setTimeout(r, 20));
    expect(await a.heartbeat(10)).toBe(true);
    expect(a.ctx.bus.listPeers()).toEqual([]);
    expect((await db.selectFrom('management_node').select('uuid').execute()).map((r) => r.uuid)).toEqual([a.nodeUuid]);
    expect(a.ctx.bus.ownerOf(zoneUuid)).toBe(a.nodeUuid);

    const journal = await db.selectFrom('flow_journal').select(['state', 'nodeUuid']).where('resourceUuid', '=', zoneUuid).executeTakeFirstOrThrow();
    expect(journal).toEqual({ state: 'RolledBack', nodeUuid: a.nodeUuid });
    expect(await db.selectFrom('zone').select('uuid').where('uuid', '=', zoneUuid).execute()).toEqual([]);
    expect(await db.selectFrom('user_tag').select('uuid').where('resourceUuid', '=', zoneUuid).execute()).toEqual([]);
    const polled = await ca.poll(`${a.url}${new URL(accepted.body.location).pathname}`);
    expect(polled.status).toBe(503);
    expect(polled.body.error.code).toBe(SysErrors.MANAGEMENT_NODE_UNAVAILABLE_ERROR.code);

    // A carries on alone, including for resources B used to own.
    const zone = await createZone(ca, 'after-fencing', { resourceUuid: uuidOwnedBy(a) });
    expect((await ca.call('PUT', `/zones/${zone.uuid}/actions`, { updateZone: { description: 'fine' } })).inventory.description).toBe('fine');
  });
});
