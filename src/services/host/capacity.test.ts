import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HostErrors } from '../../contracts/host.ts';
import { freshTestDatabase, migrate, testDatabaseKinds, type TestDatabase } from '../../core/db/index.ts';
import { StratoError } from '../../core/errors/index.ts';
import { memoryCharged, releaseCapacity, reserveCapacity } from './capacity.ts';
import { hostMigration } from './schema.ts';

describe.each(testDatabaseKinds())('host capacity reservation on %s', (kind) => {
  let d: TestDatabase;
  const H = 'a'.repeat(32);
  const available = async () => {
    const r = await d.db.selectFrom('host').select(['availableCpuCapacity', 'availableMemoryCapacity']).where('uuid', '=', H).executeTakeFirstOrThrow();
    return [Number(r.availableCpuCapacity), Number(r.availableMemoryCapacity)];
  };

  beforeEach(async () => {
    d = await freshTestDatabase(kind);
    await migrate(d, [hostMigration]);
    const now = Date.now();
    await d.db.insertInto('host').values({ uuid: H, zoneUuid: H, clusterUuid: H, name: 'h', managementIp: '10.0.0.1', hypervisorType: 'Simulator', state: 'Enabled', status: 'Connected', agentToken: 't', totalCpuCapacity: 10, availableCpuCapacity: 10, totalMemoryCapacity: 1000, availableMemoryCapacity: 1000, createDate: now, lastOpDate: now }).execute();
  });
  afterEach(async () => d.drop());

  it('takes CPU and memory together, or neither when either is short', async () => {
    await reserveCapacity(d.db, { hostUuid: H, cpuNum: 4, memorySize: 300 }, 1);
    expect(await available()).toEqual([6, 700]);
    const e = await reserveCapacity(d.db, { hostUuid: H, cpuNum: 1, memorySize: 701 }, 1).catch((x: unknown) => x);
    expect((e as StratoError).errorCode.code).toBe(HostErrors.INSUFFICIENT_CAPACITY.code);
    expect(await available()).toEqual([6, 700]);
  });

  it('never overcommits under 50 concurrent reservations', async () => {
    const r = await Promise.allSettled(Array.from({ length: 50 }, () => reserveCapacity(d.db, { hostUuid: H, cpuNum: 1, memorySize: 30 }, 1)));
    expect(r.filter((x) => x.status === 'fulfilled').length).toBe(10);
    expect(await available()).toEqual([0, 700]);
  });

  it('charges memory divided by the over-provisioning ratio and releases no more than the total', async () => {
    expect(memoryCharged(1001, 2)).toBe(501);
    await reserveCapacity(d.db, { hostUuid: H, cpuNum: 0, memorySize: 1800 }, 2);
    expect(await available()).toEqual([10, 100]);
    await releaseCapacity(d.db, { hostUuid: H, cpuNum: 5, memorySize: 5000 }, 2);
    expect(await available()).toEqual([10, 1000]);
  });

  it('refuses negative or fractional amounts', async () => {
    await expect(reserveCapacity(d.db, { hostUuid: H, cpuNum: -1, memorySize: 0 }, 1)).rejects.toThrow(/non-negative/);
    await expect(releaseCapacity(d.db, { hostUuid: H, cpuNum: 0.5, memorySize: 0 }, 1)).rejects.toThrow(/non-negative/);
  });
});
