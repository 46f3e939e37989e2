import { afterEach, describe, expect, it, vi } from 'vitest';
import type { HostCandidate } from '../../contracts/host-allocator.ts';
import { CAPACITY_BLIND_VIEW_TTL_MS, HOST_VIEW_TTL_MS, HostViews } from './host-view.ts';

const host = (uuid: string, status = 'Connected'): HostCandidate => ({ uuid, name: uuid, zoneUuid: 'z', clusterUuid: 'c', hypervisorType: 'Simulator', state: 'Enabled', status, totalCpuCapacity: 4, availableCpuCapacity: 4, totalMemoryCapacity: 8, availableMemoryCapacity: 8 });

describe('host views', () => {
  afterEach(() => vi.useRealTimers());

  const counting = (hosts: () => HostCandidate[]) => {
    let loads = 0;
    const load = async () => {
      loads++;
      return { hosts: hosts(), clusterStates: new Map([['c', 'Enabled']]) };
    };
    return { load, loads: () => loads };
  };

  it('keep a view for the TTL the caller asks, the short one by default, and reload after it or after clear()', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const views = new HostViews();
    const { load, loads } = counting(() => [host('a')]);
    await views.obtain('s', load, CAPACITY_BLIND_VIEW_TTL_MS);
    vi.advanceTimersByTime(HOST_VIEW_TTL_MS + 1);
    await views.obtain('s', load, CAPACITY_BLIND_VIEW_TTL_MS);
    expect(loads()).toBe(1);
    await views.obtain('s', load);
    expect(loads()).toBe(2);
    views.clear();
    await views.obtain('s', load, CAPACITY_BLIND_VIEW_TTL_MS);
    expect(loads()).toBe(3);
    vi.advanceTimersByTime(CAPACITY_BLIND_VIEW_TTL_MS);
    await views.obtain('s', load, CAPACITY_BLIND_VIEW_TTL_MS);
    expect(loads()).toBe(4);
  });

  it('keep a view read while a host was Connecting or entering maintenance only for the short TTL (its end may come unannounced)', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const views = new HostViews();
    let hosts = [host('a'), host('b', 'Connecting')];
    const { load, loads } = counting(() => hosts);
    expect((await views.obtain('s', load, CAPACITY_BLIND_VIEW_TTL_MS)).unsettled).toBe(true);
    vi.advanceTimersByTime(HOST_VIEW_TTL_MS + 1);
    hosts = [host('a'), { ...host('b'), state: 'PreMaintenance' }];
    expect((await views.obtain('s', load, CAPACITY_BLIND_VIEW_TTL_MS)).byUuid.get('b')?.status).toBe('Connected');
    vi.advanceTimersByTime(HOST_VIEW_TTL_MS + 1);
    hosts = [host('a'), host('b')];
    expect((await views.obtain('s', load, CAPACITY_BLIND_VIEW_TTL_MS)).unsettled).toBe(false);
    vi.advanceTimersByTime(HOST_VIEW_TTL_MS + 1);
    await views.obtain('s', load, CAPACITY_BLIND_VIEW_TTL_MS);
    expect(loads()).toBe(3);
  });
});
