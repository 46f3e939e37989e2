import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCatalog } from '../src/api/catalog.ts';
import { demoEnvironment } from '../src/cli/demo-environment.ts';
import { buildEnvironment, type Environment } from '../src/cli/environment.ts';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';

const withVms = apiCatalog.some((a) => a.name === 'CreateVmInstance');

describe.each(testDatabaseKinds())('an environment declared as data (the demo cloud) on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  let env: Environment;
  beforeAll(async () => {
    t = await startTestNode(kind);
    env = await buildEnvironment(t.url, demoEnvironment(withVms));
    c = await t.login();
  }, 120_000);
  afterAll(async () => t?.stop());

  const query = async (path: string) => (await c.call('GET', path)).inventories as Array<Record<string, any>>;

  it('builds every resource through the API and names them', async () => {
    expect(env.uuid('demo-zone')).toMatch(/^[0-9a-f]{32}$/);
    expect(() => env.uuid('no-such-thing')).toThrow(/no resource named no-such-thing/);
    const hosts = await query(`/hosts?q=${encodeURIComponent(`zone.name=demo-zone`)}`);
    expect(hosts.map((h) => h.name).sort()).toEqual(['demo-host-1', 'demo-host-2', 'demo-host-3']);
    expect(hosts.every((h) => h.status === 'Connected' && h.state === 'Enabled')).toBe(true);
  });

  it('wires storage, networks and images the way the spec says', async () => {
    const [image] = await query(`/images?q=name=demo-linux`);
    expect(image.status).toBe('Ready');
    const [ps] = await query(`/primary-storage?q=name=demo-primary`);
    expect(ps.status).toBe('Connected');
    expect(await query(`/primary-storage?q=${encodeURIComponent(`attachedClusterRefs.clusterUuid=${env.uuid('demo-cluster')}`)}`)).toHaveLength(1);
    const l3 = await query(`/l3-networks?q=${encodeURIComponent('zoneUuid=' + env.uuid('demo-zone'))}`);
    expect(l3.map((n) => n.name).sort()).toEqual(['demo-private', 'demo-public']);
    const free = await c.call('GET', `/l3-networks/${env.uuid('demo-private')}/ip/free?limit=5`);
    expect(free.inventories.length).toBe(5);
  });

  it.runIf(withVms)('starts the demo VMs on the simulated hosts', async () => {
    const vms = await query(`/vm-instances?q=${encodeURIComponent('name~=demo-vm-%')}`);
    expect(vms).toHaveLength(3);
    expect(vms.every((v) => v.state === 'Running')).toBe(true);
  });

  it('refuses a spec that names two resources alike, before creating the second', async () => {
    await expect(buildEnvironment(t.url, { zones: [{ name: 'dup' }, { name: 'dup' }] })).rejects.toThrow(/two resources are named dup/);
  });
});
