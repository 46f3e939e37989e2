import { describe, expect, it } from 'vitest';
import { StratoError, SysErrors } from '../errors/index.ts';
import { captureLog } from '../flow/testing/recording.ts';
import { CascadeRegistry } from './cascade-registry.ts';
import type { CascadeEntry } from './types.ts';

/**
 * A fake inventory: zone → cluster → host → vm, and zone → l3 → vm (a VM hangs under its host and
 * under the L3 network of its NIC: a second parent edge).
 */
function world() {
  const rows = new Map<string, { type: string; parents: Record<string, string | null> }>([
    ['z1', { type: 'ZoneVO', parents: {} }],
    ['z2', { type: 'ZoneVO', parents: {} }],
    ['c1', { type: 'ClusterVO', parents: { ZoneVO: 'z1' } }],
    ['c2', { type: 'ClusterVO', parents: { ZoneVO: 'z2' } }],
    ['h1', { type: 'HostVO', parents: { ClusterVO: 'c1' } }],
    ['h2', { type: 'HostVO', parents: { ClusterVO: 'c1' } }],
    ['h3', { type: 'HostVO', parents: { ClusterVO: 'c2' } }],
    ['l1', { type: 'L3NetworkVO', parents: { ZoneVO: 'z1' } }],
    ['vm1', { type: 'VmInstanceVO', parents: { HostVO: 'h1', L3NetworkVO: 'l1' } }],
    // Stopped: no host, reachable only through its L3 network.
    ['vm2', { type: 'VmInstanceVO', parents: { HostVO: null, L3NetworkVO: 'l1' } }],
    ['vm3', { type: 'VmInstanceVO', parents: { HostVO: 'h3', L3NetworkVO: null } }],
  ]);
  const calls: string[] = [];
  const entry = (resource: string, parents: string[], extra: Partial<CascadeEntry> = {}): CascadeEntry => ({
    resource,
    parents,
    children: (parent, uuids) => {
      calls.push(`children:${resource}<${parent}:${uuids.join(',')}`);
      return [...rows].filter(([, r]) => r.type === resource && uuids.includes(r.parents[parent] ?? '')).map(([u]) => u);
    },
    check: (uuids) => { calls.push(`check:${resource}:${uuids.join(',')}`); },
    delete: (uuids, { force }) => {
      calls.push(`delete:${resource}:${uuids.join(',')}${force ? ':force' : ''}`);
      for (const u of uuids) rows.delete(u);
    },
    ...extra,
  });
  return { rows, calls, entry };
}

function registry(w: ReturnType<typeof world>, overrides: Record<string, Partial<CascadeEntry>> = {}) {
  const log = captureLog();
  const c = new CascadeRegistry({ log });
  c.register(w.entry('ZoneVO', [], overrides.ZoneVO));
  c.register(w.entry('ClusterVO', ['ZoneVO'], overrides.ClusterVO));
  c.register(w.entry('HostVO', ['ClusterVO'], overrides.HostVO));
  c.register(w.entry('L3NetworkVO', ['ZoneVO'], overrides.L3NetworkVO));
  c.register(w.entry('VmInstanceVO', ['HostVO', 'L3NetworkVO'], overrides.VmInstanceVO));
  c.seal();
  return c;
}

const deletes = (calls: string[]) => calls.filter((c) => c.startsWith('delete:'));

describe('cascade deletion', () => {
  it('deletes a zone\'s whole subtree children first, finding VMs through either parent, each once', async () => {
    const w = world();
    const result = await registry(w).delete({ resource: 'ZoneVO', uuids: ['z1'], mode: 'Permissive' });
    expect(deletes(w.calls)).toEqual([
      'delete:VmInstanceVO:vm1,vm2',
      'delete:HostVO:h1,h2',
      'delete:L3NetworkVO:l1',
      'delete:ClusterVO:c1',
      'delete:ZoneVO:z1',
    ]);
    expect([...w.rows.keys()].sort()).toEqual(['c2', 'h3', 'vm3', 'z2']);
    expect(result.deleted.map((d) => d.resource)).toEqual(['VmInstanceVO', 'HostVO', 'L3NetworkVO', 'ClusterVO', 'ZoneVO']);
    expect(result.errors).toEqual([]);
  });

  it('runs every check over the whole subtree before the first delete', async () => {
    const w = world();
    await registry(w).delete({ resource: 'ZoneVO', uuids: ['z1'], mode: 'Permissive' });
    const phases = w.calls.filter((c) => !c.startsWith('children')).map((c) => c.split(':')[0]);
    expect(phases).toEqual(['check', 'check', 'check', 'check', 'check', 'delete', 'delete', 'delete', 'delete', 'delete']);
  });

  it('deletes only what hangs under a host when the host is the root', async () => {
    const w = world();
    await registry(w).delete({ resource: 'HostVO', uuids: ['h1'], mode: 'Permissive' });
    expect(deletes(w.calls)).toEqual(['delete:VmInstanceVO:vm1', 'delete:HostVO:h1']);
    expect(w.calls.filter((c) => c.startsWith('children:L3NetworkVO') || c.includes('L3NetworkVO<'))).toEqual([]);
  });

  it('aborts a Permissive deletion vetoed by a child check with nothing deleted, as SYS.1004 with the cause', async () => {
    const w = world();
    const veto = new StratoError(SysErrors.OPERATION_ERROR, 'host h2 is in maintenance');
    const c = registry(w, { HostVO: { check: () => { throw veto; } } });
    const err = await c.delete({ resource: 'ZoneVO', uuids: ['z1'], mode: 'Permissive' }).catch((e) => e);
    expect(err.errorCode).toMatchObject({ code: SysErrors.DELETE_RESOURCE_ERROR.code, cause: { code: 'SYS.1006', details: 'host h2 is in maintenance' } });
    expect(deletes(w.calls)).toEqual([]);
    expect(w.rows.size).toBe(11);
  });

  it('stops a Permissive deletion at the first delete error, leaving the parents', async () => {
    const w = world();
    const c = registry(w, { HostVO: { delete: () => { throw new Error('agent unreachable'); } } });
    const err = await c.delete({ resource: 'ZoneVO', uuids: ['z1'], mode: 'Permissive' }).catch((e) => e);
    expect(err.errorCode).toMatchObject({ code: 'SYS.1004', cause: { details: 'agent unreachable' } });
    expect(deletes(w.calls)).toEqual(['delete:VmInstanceVO:vm1,vm2']);
    expect(w.rows.has('z1')).toBe(true);
  });

  it('force-deletes in Enforcing mode without checks, recording a child error and going on', async () => {
    const w = world();
    const c = registry(w, { HostVO: { delete: () => { throw new Error('agent unreachable'); } } });
    const result = await c.delete({ resource: 'ZoneVO', uuids: ['z1'], mode: 'Enforcing' });
    expect(w.calls.filter((x) => x.startsWith('check'))).toEqual([]);
    expect(deletes(w.calls)).toEqual(['delete:VmInstanceVO:vm1,vm2:force', 'delete:L3NetworkVO:l1:force', 'delete:ClusterVO:c1:force', 'delete:ZoneVO:z1:force']);
    expect(result.errors).toMatchObject([{ resource: 'HostVO', phase: 'delete', uuids: ['h1', 'h2'], error: { details: 'agent unreachable' } }]);
    expect(w.rows.has('z1')).toBe(false);
  });

  it('rejects an Enforcing deletion whose root could not be deleted', async () => {
    const w = world();
    const c = registry(w, { ZoneVO: { delete: () => { throw new Error('db down'); } } });
    const err = await c.delete({ resource: 'ZoneVO', uuids: ['z1'], mode: 'Enforcing' }).catch((e) => e);
    expect(err.errorCode).toMatchObject({ code: 'SYS.1004', cause: { details: 'db down' } });
    expect(w.rows.has('c1')).toBe(false);
  });

  it('cleans up every registered resource afterwards, recording cleanup errors without failing', async () => {
    const w = world();
    const cleaned: string[] = [];
    const cleanup = (name: string) => ({ cleanup: () => { cleaned.push(name); } });
    const c = registry(w, {
      ZoneVO: cleanup('ZoneVO'), ClusterVO: cleanup('ClusterVO'), L3NetworkVO: cleanup('L3NetworkVO'),
      VmInstanceVO: cleanup('VmInstanceVO'), HostVO: { cleanup: () => { throw new Error('purge failed'); } },
    });
    const result = await c.delete({ resource: 'HostVO', uuids: ['h3'], mode: 'Permissive' });
    expect(cleaned.sort()).toEqual(['ClusterVO', 'L3NetworkVO', 'VmInstanceVO', 'ZoneVO']);
    expect(result.errors).toMatchObject([{ resource: 'HostVO', phase: 'cleanup', error: { details: 'purge failed' } }]);
  });

  it('passes the caller data and the collected subtree to every callback', async () => {
    const w = world();
    let seen: unknown;
    const c = registry(w, { ClusterVO: { delete: (_u, { ctx }) => { seen = { data: ctx.data, vms: ctx.subtree.get('VmInstanceVO'), root: ctx.root }; } } });
    await c.delete({ resource: 'ZoneVO', uuids: ['z1'], mode: 'Permissive', data: { apiId: 'a1' } });
    expect(seen).toEqual({ data: { apiId: 'a1' }, vms: ['vm1', 'vm2'], root: { resource: 'ZoneVO', uuids: ['z1'] } });
  });

  it('aborts with SYS.1004 and nothing deleted when children cannot be listed', async () => {
    const w = world();
    const c = registry(w, { HostVO: { children: () => { throw new Error('query failed'); } } });
    const err = await c.delete({ resource: 'ZoneVO', uuids: ['z1'], mode: 'Enforcing' }).catch((e) => e);
    expect(err.errorCode).toMatchObject({ code: 'SYS.1004', cause: { details: 'query failed' } });
    expect(deletes(w.calls)).toEqual([]);
  });

  it('does not look for children under a parent with no resources', async () => {
    const w = world();
    w.rows.delete('l1');
    w.rows.delete('vm1');
    w.rows.delete('vm2');
    await registry(w).delete({ resource: 'ZoneVO', uuids: ['z1'], mode: 'Permissive' });
    expect(w.calls.filter((c) => c.startsWith('children:VmInstanceVO'))).toEqual(['children:VmInstanceVO<HostVO:h1,h2']);
  });
});

describe('cascade graph', () => {
  const entry = (resource: string, parents: string[]): CascadeEntry => ({ resource, parents, children: () => [], delete: () => {} });

  it('refuses a parent nobody registered', () => {
    const c = new CascadeRegistry();
    c.register(entry('ClusterVO', ['ZoneVO']));
    expect(() => c.seal()).toThrow(/ClusterVO names an unknown parent ZoneVO/);
  });

  it('refuses cycles, including a resource that is its own parent', () => {
    const c = new CascadeRegistry();
    c.register(entry('A', ['C']));
    c.register(entry('B', ['A']));
    c.register(entry('C', ['B']));
    expect(() => c.seal()).toThrow(/cycle through A, B, C/);
    const self = new CascadeRegistry();
    self.register(entry('A', ['A']));
    expect(() => self.seal()).toThrow(/cycle/);
  });

  it('refuses duplicates, an entry with parents but no children(), registering after seal and use before it', async () => {
    const c = new CascadeRegistry();
    c.register(entry('ZoneVO', []));
    expect(() => c.register(entry('ZoneVO', []))).toThrow(/already registered/);
    expect(() => c.register({ resource: 'X', parents: ['ZoneVO'], delete: () => {} })).toThrow(/no children/);
    await expect(c.delete({ resource: 'ZoneVO', uuids: ['z'], mode: 'Permissive' })).rejects.toThrow(/must be sealed/);
    c.seal();
    expect(() => c.register(entry('Y', []))).toThrow(/sealed/);
  });

  it('answers a deletion of an unregistered resource with SYS.1004', async () => {
    const c = new CascadeRegistry();
    c.seal();
    const err = await c.delete({ resource: 'NopeVO', uuids: ['x'], mode: 'Permissive' }).catch((e) => e);
    expect(err.errorCode).toMatchObject({ code: 'SYS.1004', details: 'no cascade entry is registered for NopeVO' });
  });
});
