import { describe, it, expect, afterEach } from 'vitest';
import { Registry } from 'prom-client';
import { Bus } from './bus.ts';
import { serviceFromHandlers, type Message } from './message.ts';
import { currentContext, runWithContext, type Caller } from './context.ts';
import { StratoError, SysErrors } from '../errors/error-code.ts';

const buses: Bus[] = [];
function newBus(opts: { defaultTimeoutMs?: number; jsonLocal?: boolean } = {}) {
  const metrics = new Registry();
  const bus = new Bus({ nodeUuid: 'a'.repeat(32), metrics, ...opts });
  buses.push(bus);
  return { bus, metrics };
}
afterEach(() => {
  for (const b of buses.splice(0)) b.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const caller: Caller = { sessionUuid: 's'.repeat(32), accountUuid: 'c'.repeat(32), userUuid: 'u'.repeat(32), accountType: 'Normal' };

describe('Bus request/reply', () => {
  it('delivers a message to its service and returns the handler\'s value', async () => {
    const { bus } = newBus();
    const seen: Message[] = [];
    bus.registerService({
      id: 'zone',
      async handle(msg) {
        seen.push(msg);
        return { uuid: '1', name: (msg.body as { name: string }).name };
      },
    });
    await expect(bus.call('zone', 'CreateZone', { name: 'z1' })).resolves.toEqual({ uuid: '1', name: 'z1' });
    expect(seen[0]).toMatchObject({ service: 'zone', type: 'CreateZone', body: { name: 'z1' } });
    expect(seen[0].id).toMatch(/^[0-9a-f]{32}$/);
    await expect(bus.send('zone', 'CreateZone', { name: 'z2' })).resolves.toEqual({ success: true, value: { uuid: '1', name: 'z2' } });
  });

  it('carries errors as data: a StratoError keeps its code, any other exception becomes SYS.1000', async () => {
    const { bus } = newBus();
    bus.registerService(
      serviceFromHandlers('zone', {
        Refuse: async () => {
          throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, 'name is required');
        },
        Crash: async () => {
          throw new TypeError('undefined is not a function');
        },
        SyncThrow: (() => {
          throw new StratoError(SysErrors.OPERATION_ERROR, 'sync');
        }) as () => Promise<unknown>,
      }),
    );
    await expect(bus.send('zone', 'Refuse', {})).resolves.toEqual({ success: false, error: expect.objectContaining({ code: 'SYS.1007', details: 'name is required' }) });
    await expect(bus.send('zone', 'Crash', {})).resolves.toEqual({ success: false, error: expect.objectContaining({ code: 'SYS.1000', details: 'undefined is not a function' }) });
    await expect(bus.send('zone', 'SyncThrow', {})).resolves.toMatchObject({ success: false, error: { code: 'SYS.1006' } });
    const err = await bus.call('zone', 'Refuse', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StratoError);
    expect((err as StratoError).errorCode).toMatchObject({ code: 'SYS.1007', details: 'name is required' });
    await expect(bus.send('zone', 'Nope', {})).resolves.toMatchObject({ success: false, error: { code: SysErrors.UNKNOWN_MESSAGE_ERROR.code } });
  });

  it('replies NO_ROUTE for an unknown service and refuses a duplicate service id', async () => {
    const { bus } = newBus();
    await expect(bus.send('nothing', 'X', {})).resolves.toMatchObject({ success: false, error: { code: 'SYS.1009' } });
    const unregister = bus.registerService({ id: 'zone', handle: async () => 1 });
    expect(() => bus.registerService({ id: 'zone', handle: async () => 2 })).toThrow(/already registered/);
    unregister();
    bus.registerService({ id: 'zone', handle: async () => 3 });
    await expect(bus.call('zone', 'X', {})).resolves.toBe(3);
  });

  it('runs the handler in a RequestContext with the message\'s deadline, caller and API id', async () => {
    const { bus } = newBus();
    bus.registerService({ id: 'echo', handle: async (msg) => ({ ctx: currentContext(), deadline: msg.deadline, caller: msg.caller }) });
    const deadline = Date.now() + 10_000;
    const r = await runWithContext({ deadline, caller, apiId: 'f'.repeat(32) }, () => bus.call<any>('echo', 'Echo', {}));
    expect(r.ctx).toEqual({ deadline, caller, apiId: 'f'.repeat(32) });
    expect(r.deadline).toBe(deadline);
    // Outside any request: the default timeout applies, no caller.
    const before = Date.now();
    const r2 = await bus.call<any>('echo', 'Echo', {}, { timeoutMs: 5000 });
    expect(r2.ctx.deadline).toBeGreaterThanOrEqual(before + 5000);
    expect(r2.ctx.deadline).toBeLessThanOrEqual(Date.now() + 5000);
    expect(r2.ctx.caller).toBeUndefined();
  });
});

describe('Bus deadlines', () => {
  it('gives a nested message the outer message\'s deadline', async () => {
    const { bus } = newBus();
    const deadlines: Record<string, number> = {};
    bus.registerService({
      id: 'outer',
      async handle(msg) {
        deadlines.outer = msg.deadline;
        // The inner call asks for more time than is left: the outer deadline wins.
        return bus.call('inner', 'Work', {}, { timeoutMs: 60 * 60_000 });
      },
    });
    bus.registerService({
      id: 'inner',
      async handle(msg) {
        deadlines.inner = msg.deadline;
        return 'done';
      },
    });
    await expect(bus.call('outer', 'Go', {}, { timeoutMs: 20_000 })).resolves.toBe('done');
    expect(deadlines.inner).toBe(deadlines.outer);
  });

  it('fails an inner call fast with TIMEOUT once the outer deadline has passed, without delivering it', async () => {
    const { bus } = newBus();
    let innerDelivered = false;
    let innerError: unknown;
    bus.registerService({
      id: 'outer',
      async handle() {
        await sleep(80);
        const t0 = Date.now();
        innerError = await bus.call('inner', 'Work', {}).catch((e: unknown) => e);
        return Date.now() - t0;
      },
    });
    bus.registerService({
      id: 'inner',
      async handle() {
        innerDelivered = true;
      },
    });
    const outer = await bus.send('outer', 'Go', {}, { timeoutMs: 30 });
    expect(outer).toMatchObject({ success: false, error: { code: 'SYS.1001' } });
    await sleep(150);
    expect((innerError as StratoError).errorCode.code).toBe('SYS.1001');
    expect(innerDelivered).toBe(false);
  });

  it('fails a call with TIMEOUT when its handler is too slow, and drops the late reply', async () => {
    const { bus, metrics } = newBus();
    let finished = false;
    bus.registerService({
      id: 'slow',
      async handle() {
        await sleep(400);
        finished = true;
        return 'too late';
      },
    });
    const t0 = Date.now();
    const reply = await bus.send('slow', 'Work', {}, { timeoutMs: 40 });
    expect(reply).toMatchObject({ success: false, error: { code: 'SYS.1001' } });
    expect(Date.now() - t0).toBeLessThan(380);
    expect(finished).toBe(false);
    while (!finished) await sleep(20);
    await sleep(5);
    const text = await metrics.metrics();
    expect(text).toContain('strato_bus_late_replies_total 1');
    expect(text).toContain('strato_bus_timeouts_total 1');
    expect(text).toContain('strato_bus_pending_calls 0');
  });

  it('times out each of many concurrent calls with different deadlines at or after its own deadline', async () => {
    const { bus } = newBus();
    bus.registerService({ id: 'never', handle: () => new Promise(() => {}) });
    const t0 = Date.now();
    const timeouts = [120, 30, 60, 90, 10];
    const ended = await Promise.all(timeouts.map((ms) => bus.send('never', 'X', {}, { timeoutMs: ms }).then((r) => ({ ms, r, at: Date.now() - t0 }))));
    for (const e of ended) {
      expect(e.r.success).toBe(false);
      expect(e.at).toBeGreaterThanOrEqual(e.ms - 1);
    }
    const order = [...ended].sort((a, b) => a.at - b.at || a.ms - b.ms).map((e) => e.ms);
    expect(order).toEqual([10, 30, 60, 90, 120]);
  });
});

describe('Bus interceptors', () => {
  it('runs interceptors in registration order and lets one refuse delivery with its error as the reply', async () => {
    const { bus } = newBus();
    const log: string[] = [];
    let handled = 0;
    bus.registerService({ id: 'vm', handle: async () => ++handled });
    bus.addInterceptor({ name: 'first', beforeDeliver: (m) => void log.push(`first ${m.type}`), afterReply: (m, r) => void log.push(`after ${m.type} ${r.success}`) });
    bus.addInterceptor({
      name: 'permission',
      async beforeDeliver(msg) {
        log.push(`permission ${msg.type}`);
        if (msg.type === 'DestroyVm') throw new StratoError({ code: 'ID.1003', description: 'Permission denied' }, 'not yours');
      },
    });
    bus.addInterceptor({ name: 'last', beforeDeliver: (m) => void log.push(`last ${m.type}`) });
    await expect(bus.send('vm', 'StartVm', {})).resolves.toEqual({ success: true, value: 1 });
    await expect(bus.send('vm', 'DestroyVm', {})).resolves.toMatchObject({ success: false, error: { code: 'ID.1003', details: 'not yours' } });
    expect(handled).toBe(1);
    expect(log).toEqual(['first StartVm', 'permission StartVm', 'last StartVm', 'after StartVm true', 'first DestroyVm', 'permission DestroyVm', 'after DestroyVm false']);
  });

  it('ignores an afterReply interceptor that throws', async () => {
    const { bus } = newBus();
    bus.registerService({ id: 'vm', handle: async () => 'ok' });
    bus.addInterceptor({ name: 'broken', afterReply: () => { throw new Error('oops'); } });
    await expect(bus.call('vm', 'X', {})).resolves.toBe('ok');
  });
});

describe('Bus events', () => {
  it('delivers an event to every subscriber of its type and to wildcard subscribers, even when one throws', async () => {
    const { bus, metrics } = newBus();
    const got: string[] = [];
    bus.subscribe<{ uuid: string }>('host.disconnected', (body) => void got.push(`a ${body.uuid}`));
    bus.subscribe('host.disconnected', () => {
      throw new Error('subscriber bug');
    });
    bus.subscribe('host.disconnected', async () => {
      throw new Error('async subscriber bug');
    });
    const off = bus.subscribe<{ uuid: string }>('host.disconnected', (body) => void got.push(`b ${body.uuid}`));
    bus.subscribe('*', (_b, ev) => void got.push(`any ${ev.type}`));
    bus.subscribe('vm.stateChanged', () => void got.push('wrong type'));
    await bus.publish('host.disconnected', { uuid: 'h1' });
    await sleep(5);
    expect(got.sort()).toEqual(['a h1', 'any host.disconnected', 'b h1']);
    off();
    await bus.publish('host.disconnected', { uuid: 'h2' });
    await sleep(5);
    expect(got.filter((g) => g.endsWith('h2')).sort()).toEqual(['a h2']);
    expect(await metrics.getSingleMetricAsString('strato_bus_event_listener_failures_total')).toContain('strato_bus_event_listener_failures_total 4');
  });
});

describe('Bus metrics and JSON mode', () => {
  it('counts handled messages and failures per service', async () => {
    const { bus, metrics } = newBus();
    bus.registerService({ id: 'zone', handle: async (m) => { if (m.type === 'Bad') throw new Error('x'); return 1; } });
    await bus.send('zone', 'Good', {});
    await bus.send('zone', 'Bad', {});
    const text = await metrics.metrics();
    expect(text).toContain('strato_bus_messages_handled_total{service="zone"} 2');
    expect(text).toContain('strato_bus_message_failures_total{service="zone"} 1');
    expect(text).toContain('strato_bus_message_handling_seconds_count{service="zone"} 2');
    expect(text).toContain('strato_bus_messages_in_flight 0');
  });

  it('in jsonLocal mode, hands the handler a copy of the body as it would arrive over HTTP', async () => {
    const { bus } = newBus({ jsonLocal: true });
    bus.registerService({ id: 'echo', handle: async (m) => m.body });
    const body = { when: new Date(0), nested: { a: 1 } };
    const value = await bus.call<any>('echo', 'Echo', body);
    expect(value).toEqual({ when: '1970-01-01T00:00:00.000Z', nested: { a: 1 } });
    expect(value.nested).not.toBe(body.nested);
  });
});
