import { describe, expect, it } from 'vitest';
import { StratoError, SysErrors } from '../errors/index.ts';
import { captureLog } from '../flow/testing/recording.ts';
import { observerPoint, strategyPoint } from './extension-point.ts';
import { ExtensionRegistry } from './extension-registry.ts';

interface HypervisorFactory { type: string; connect(): string }
const HypervisorFactoryPoint = strategyPoint<HypervisorFactory>('host.hypervisorFactory');

interface Zone { uuid: string }
interface ZoneLifecycle {
  preDelete?(z: Zone): void | Promise<void>;
  beforeDelete?(z: Zone): void | Promise<void>;
  afterDelete?(z: Zone): void | Promise<void>;
  failedToDelete?(z: Zone, err: unknown): void | Promise<void>;
}
const ZoneLifecyclePoint = observerPoint<ZoneLifecycle>('zone.lifecycle');
const zone = { uuid: 'z1' };

describe('strategy points', () => {
  it('returns the implementation registered for a key', () => {
    const x = new ExtensionRegistry();
    const kvm = { type: 'KVM', connect: () => 'kvm' };
    x.registerStrategy(HypervisorFactoryPoint, 'KVM', kvm);
    expect(x.strategy(HypervisorFactoryPoint, 'KVM')).toBe(kvm);
    expect(x.findStrategy(HypervisorFactoryPoint, 'Xen')).toBeUndefined();
  });

  it('refuses a second implementation for the same key', () => {
    const x = new ExtensionRegistry();
    x.registerStrategy(HypervisorFactoryPoint, 'KVM', { type: 'KVM', connect: () => '' }, { by: 'kvm' });
    expect(() => x.registerStrategy(HypervisorFactoryPoint, 'KVM', { type: 'KVM', connect: () => '' }, { by: 'other' })).toThrow(/already has an implementation for 'KVM' \(from kvm\)/);
  });

  it('answers a missing key with SYS.1013 naming the key and the known keys', () => {
    const x = new ExtensionRegistry();
    x.registerStrategy(HypervisorFactoryPoint, 'KVM', { type: 'KVM', connect: () => '' });
    x.registerStrategy(HypervisorFactoryPoint, 'Simulator', { type: 'Simulator', connect: () => '' });
    const err = (() => { try { x.strategy(HypervisorFactoryPoint, 'Xen'); } catch (e) { return e; } })() as StratoError;
    expect(err).toBeInstanceOf(StratoError);
    expect(err.errorCode.code).toBe(SysErrors.NO_CAPABILITY_ERROR.code);
    expect(err.errorCode.details).toBe("no host.hypervisorFactory implementation for 'Xen'; known: KVM, Simulator");
  });

  it('keeps registries of two nodes apart', () => {
    const a = new ExtensionRegistry();
    const b = new ExtensionRegistry();
    a.registerStrategy(HypervisorFactoryPoint, 'KVM', { type: 'KVM', connect: () => '' });
    expect(b.strategyKeys(HypervisorFactoryPoint)).toEqual([]);
  });

  it('refuses to use one point id both as a strategy and an observer point', () => {
    const x = new ExtensionRegistry();
    x.registerStrategy(strategyPoint<object>('same.id'), 'k', {});
    expect(() => x.registerObserver(observerPoint<object>('same.id'), {})).toThrow(/is a strategy point/);
  });
});

describe('observer points', () => {
  it('calls observers by order, then registration order', async () => {
    const x = new ExtensionRegistry();
    const calls: string[] = [];
    const obs = (name: string): ZoneLifecycle => ({ beforeDelete: () => { calls.push(name); } });
    x.registerObserver(ZoneLifecyclePoint, obs('b'));
    x.registerObserver(ZoneLifecyclePoint, obs('late'), { order: 10 });
    x.registerObserver(ZoneLifecyclePoint, obs('first'), { order: -1 });
    x.registerObserver(ZoneLifecyclePoint, obs('c'));
    x.registerObserver(ZoneLifecyclePoint, {}); // implements no hook: passed over
    await x.callSafe(ZoneLifecyclePoint, 'beforeDelete', zone);
    expect(calls).toEqual(['first', 'b', 'c', 'late']);
    expect(x.observers(ZoneLifecyclePoint)).toHaveLength(5);
  });

  it('lets a pre hook veto: its StratoError comes out as is and later observers are not called', async () => {
    const x = new ExtensionRegistry();
    const calls: string[] = [];
    const veto = new StratoError(SysErrors.OPERATION_ERROR, 'zone has running VMs');
    x.registerObserver(ZoneLifecyclePoint, { preDelete: () => { calls.push('ok'); } });
    x.registerObserver(ZoneLifecyclePoint, { preDelete: async () => { throw veto; } });
    x.registerObserver(ZoneLifecyclePoint, { preDelete: () => { calls.push('never'); } });
    await expect(x.callVeto(ZoneLifecyclePoint, 'preDelete', zone)).rejects.toBe(veto);
    expect(calls).toEqual(['ok']);
  });

  it('wraps a plain error from a pre hook as SYS.1006 naming who refused', async () => {
    const x = new ExtensionRegistry();
    x.registerObserver(ZoneLifecyclePoint, { preDelete: () => { throw new Error('license expired'); } }, { by: 'licensing' });
    const err = await x.callVeto(ZoneLifecyclePoint, 'preDelete', zone).catch((e) => e);
    expect(err.errorCode).toMatchObject({ code: 'SYS.1006', details: 'zone.lifecycle.preDelete refused by licensing: license expired' });
  });

  it('logs after/failed hook errors and still calls the remaining observers', async () => {
    const log = captureLog();
    const x = new ExtensionRegistry({ log });
    const calls: unknown[] = [];
    x.registerObserver(ZoneLifecyclePoint, { failedToDelete: () => { throw new Error('observer broke'); } }, { by: 'p1' });
    x.registerObserver(ZoneLifecyclePoint, { failedToDelete: (z, err) => { calls.push([z.uuid, err]); } });
    await expect(x.callSafe(ZoneLifecyclePoint, 'failedToDelete', zone, 'cause')).resolves.toBeUndefined();
    expect(calls).toEqual([['z1', 'cause']]);
    expect(log.lines).toMatchObject([{ level: 'error', obj: { point: 'zone.lifecycle', hook: 'failedToDelete', by: 'p1' } }]);
  });
});
