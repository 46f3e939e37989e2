import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '../src/core/db/index.ts';
import { SysErrors } from '../src/core/errors/index.ts';
import { newUuid } from '../src/core/util/uuid.ts';
import { countRows, qs } from './support/integration.ts';
import { startTestNode, type TestClient, type TestNode } from './support/test-node.ts';

const GiB = 1024 ** 3;
const TABLES = ['instance_offering', 'disk_offering', 'user_tag', 'system_tag'];

describe.each(testDatabaseKinds())('instance and disk offerings through the REST API on %s', (kind) => {
  let t: TestNode;
  let c: TestClient;
  const db = () => t.node.ctx.db;

  beforeAll(async () => {
    t = await startTestNode(kind);
    c = await t.login();
  });
  afterAll(async () => t?.stop());

  const createIo = async (params: Record<string, unknown>, top: Record<string, unknown> = {}) => (await c.call('POST', '/instance-offerings', { params: { name: 'io', cpuNum: 2, memorySize: 2 * GiB, ...params }, ...top })).inventory;
  const createDo = async (params: Record<string, unknown>) => (await c.call('POST', '/disk-offerings', { params: { name: 'do', diskSize: 10 * GiB, ...params } })).inventory;

  it('creates an instance offering with ZStack defaults and the inventory fields of ZStack', async () => {
    const io = await createIo({ name: 'small', description: 'two cpus' }, { userTags: ['web'] });
    expect(io).toMatchObject({ name: 'small', description: 'two cpus', cpuNum: 2, cpuSpeed: 0, memorySize: 2 * GiB, reservedMemorySize: 0, type: 'UserVm', allocatorStrategy: 'DefaultHostAllocatorStrategy', sortKey: 0, state: 'Enabled' });
    expect(typeof io.createDate).toBe('string');
    const tags = await db().selectFrom('user_tag').select('tag').where('resourceUuid', '=', io.uuid).execute();
    expect(tags.map((r) => r.tag)).toEqual(['web']);
  });

  it('keeps the chosen allocator strategy, sortKey and a client-chosen uuid', async () => {
    const uuid = newUuid();
    const io = await createIo({ name: 'lvp', allocatorStrategy: 'LeastVmPreferredHostAllocatorStrategy', sortKey: 7, resourceUuid: uuid, memorySize: 64 * GiB, cpuNum: 32 });
    expect(io).toMatchObject({ uuid, allocatorStrategy: 'LeastVmPreferredHostAllocatorStrategy', sortKey: 7, memorySize: 64 * GiB, cpuNum: 32 });
    const again = await c.send('POST', '/instance-offerings', { params: { name: 'dup', cpuNum: 1, memorySize: GiB, resourceUuid: uuid } });
    expect(again.status).toBe(503);
    expect(again.body.error.code).toBe(SysErrors.INVALID_ARGUMENT_ERROR.code);
  });

  it('refuses non-positive or absurd cpuNum, memorySize and diskSize, unknown allocator strategies, and writes nothing', async () => {
    const before = await countRows(db(), TABLES);
    const bad: Array<[string, Record<string, unknown>, string]> = [
      ['/instance-offerings', { name: 'x', cpuNum: 0, memorySize: GiB }, 'cpuNum'],
      ['/instance-offerings', { name: 'x', cpuNum: -1, memorySize: GiB }, 'cpuNum'],
      ['/instance-offerings', { name: 'x', cpuNum: 1025, memorySize: GiB }, 'cpuNum'],
      ['/instance-offerings', { name: 'x', cpuNum: 1, memorySize: 0 }, 'memorySize'],
      ['/instance-offerings', { name: 'x', cpuNum: 1, memorySize: 1024 ** 5 }, 'memorySize'],
      ['/instance-offerings', { name: 'x', cpuNum: 1.5, memorySize: GiB }, 'cpuNum'],
      ['/instance-offerings', { name: 'x', cpuNum: 1, memorySize: GiB, allocatorStrategy: 'RandomHostAllocatorStrategy' }, 'allocatorStrategy'],
      ['/instance-offerings', { name: 'x', cpuNum: 1, memorySize: GiB, reservedMemorySize: 2 * GiB }, 'reservedMemorySize'],
      ['/disk-offerings', { name: 'x', diskSize: 0 }, 'diskSize'],
      ['/disk-offerings', { name: 'x', diskSize: -GiB }, 'diskSize'],
      ['/disk-offerings', { name: 'x', diskSize: 2 * 1024 ** 5 }, 'diskSize'],
      ['/disk-offerings', { name: 'x' }, 'diskSize'],
    ];
    for (const [path, params, mention] of bad) {
      const r = await c.send('POST', path, { params });
      expect(r.status, JSON.stringify(params)).toBe(503);
      expect(r.body.error.code).toBe(SysErrors.INVALID_ARGUMENT_ERROR.code);
      expect(r.body.error.details).toContain(mention);
    }
    expect(await countRows(db(), TABLES)).toEqual(before);
  });

  it('updates an instance offering, keeping fields that were not sent, and refuses an unknown one', async () => {
    const io = await createIo({ name: 'upd', description: 'old' });
    const upd = await c.call('PUT', `/instance-offerings/${io.uuid}/actions`, { updateInstanceOffering: { name: 'upd-new', allocatorStrategy: 'MinimumCPUUsageHostAllocatorStrategy' } });
    expect(upd.inventory).toMatchObject({ uuid: io.uuid, name: 'upd-new', description: 'old', allocatorStrategy: 'MinimumCPUUsageHostAllocatorStrategy', cpuNum: 2 });
    const missing = await c.send('PUT', `/instance-offerings/${newUuid()}/actions`, { updateInstanceOffering: { name: 'n' } });
    expect(missing.status).toBe(503);
    expect(missing.body.error.code).toBe(SysErrors.RESOURCE_NOT_FOUND.code);
  });

  it('disables and enables an instance offering and a disk offering', async () => {
    const io = await createIo({ name: 'st' });
    const off = await c.call('PUT', `/instance-offerings/${io.uuid}/actions`, { changeInstanceOfferingState: { stateEvent: 'disable' } });
    expect(off.inventory.state).toBe('Disabled');
    const q = await c.call('GET', `/instance-offerings${qs({ q: [`uuid=${io.uuid}`, 'state=Disabled'] })}`);
    expect(q.inventories).toHaveLength(1);
    const on = await c.call('PUT', `/instance-offerings/${io.uuid}/actions`, { changeInstanceOfferingState: { stateEvent: 'enable' } });
    expect(on.inventory.state).toBe('Enabled');
    const d = await createDo({ name: 'st-do' });
    const dOff = await c.call('PUT', `/disk-offerings/${d.uuid}/actions`, { changeDiskOfferingState: { stateEvent: 'disable' } });
    expect(dOff.inventory.state).toBe('Disabled');
  });

  it('deletes an instance offering with its tags; deleting it again succeeds', async () => {
    const io = await createIo({ name: 'del' }, { userTags: ['gone-soon'] });
    await c.call('DELETE', `/instance-offerings/${io.uuid}`);
    expect(await db().selectFrom('instance_offering').select('uuid').where('uuid', '=', io.uuid).executeTakeFirst()).toBeUndefined();
    expect(await db().selectFrom('user_tag').select('uuid').where('resourceUuid', '=', io.uuid).executeTakeFirst()).toBeUndefined();
    expect((await c.send('DELETE', `/instance-offerings/${io.uuid}`)).status).toBe(200);
    expect((await c.call('GET', `/instance-offerings/${io.uuid}`)).inventories).toEqual([]);
  });

  it('creates, updates, queries and deletes disk offerings', async () => {
    const d = await createDo({ name: 'data-100', description: 'hundred', diskSize: 100 * GiB, sortKey: 3, allocationStrategy: 'LocalPrimaryStorageStrategy' });
    expect(d).toMatchObject({ name: 'data-100', description: 'hundred', diskSize: 100 * GiB, sortKey: 3, state: 'Enabled', type: 'zstack', allocatorStrategy: 'LocalPrimaryStorageStrategy' });
    const plain = await createDo({ name: 'data-plain', diskSize: GiB });
    expect(plain.allocatorStrategy).toBe('DefaultPrimaryStorageAllocationStrategy');
    const upd = await c.call('PUT', `/disk-offerings/${d.uuid}/actions`, { updateDiskOffering: { description: 'renamed' } });
    expect(upd.inventory).toMatchObject({ name: 'data-100', description: 'renamed' });
    const big = await c.call('GET', `/disk-offerings${qs({ q: [`diskSize>${50 * GiB}`, 'name~=data-%'], sort: '-diskSize' })}`);
    expect(big.inventories.map((x: any) => x.uuid)).toEqual([d.uuid]);
    const zql = await c.call('GET', `/zql${qs({ zql: `query diskoffering where uuid='${plain.uuid}'` })}`);
    expect(zql.results[0].inventories[0].diskSize).toBe(GiB);
    await c.call('DELETE', `/disk-offerings/${d.uuid}`);
    expect((await c.call('GET', `/disk-offerings/${d.uuid}`)).inventories).toEqual([]);
    expect((await c.send('DELETE', `/disk-offerings/${newUuid()}`)).status).toBe(200);
  });

  it('queries instance offerings by cpu and memory with sort and count', async () => {
    await createIo({ name: 'q-a', cpuNum: 1, memorySize: GiB });
    await createIo({ name: 'q-b', cpuNum: 4, memorySize: 8 * GiB });
    await createIo({ name: 'q-c', cpuNum: 8, memorySize: 16 * GiB });
    const r = await c.call('GET', `/instance-offerings${qs({ q: ['name~=q-%', 'cpuNum>=4'], sort: '-memorySize', replyWithCount: true })}`);
    expect(r.total).toBe(2);
    expect(r.inventories.map((x: any) => x.name)).toEqual(['q-c', 'q-b']);
  });
});
