import { describe, it, expect } from 'vitest';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { Registry } from 'prom-client';
import { Bus } from './bus.ts';
import { createLoggingInterceptor } from './logging-interceptor.ts';
import { StratoError, SysErrors } from '../errors/error-code.ts';

function capture(level: string) {
  const lines: any[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: pino({ level }, stream) as Logger, lines };
}

function busWith(logger: Logger, logBodies = false) {
  const bus = new Bus({ nodeUuid: 'a'.repeat(32), metrics: new Registry() });
  bus.registerService({
    id: 'zone',
    async handle(msg) {
      if (msg.type === 'Fail') throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, 'bad');
      return { ok: true };
    },
  });
  bus.addInterceptor(createLoggingInterceptor(logger, { logBodies }));
  return bus;
}

describe('createLoggingInterceptor', () => {
  it('logs delivery and reply at debug level, without bodies by default', async () => {
    const { logger, lines } = capture('debug');
    const bus = busWith(logger);
    await bus.send('zone', 'CreateZone', { password: 'secret' }, { resourceUuid: 'r'.repeat(32) });
    await bus.send('zone', 'Fail', {});
    await new Promise((r) => setImmediate(r));
    expect(lines.map((l) => l.msg)).toEqual(['bus: deliver zone/CreateZone', 'bus: reply zone/CreateZone ok', 'bus: deliver zone/Fail', 'bus: reply zone/Fail failed: SYS.1007']);
    expect(lines[0]).toMatchObject({ level: 20, service: 'zone', type: 'CreateZone', resourceUuid: 'r'.repeat(32) });
    expect(lines[1].ms).toBeGreaterThanOrEqual(0);
    expect(lines[3].error).toMatchObject({ code: 'SYS.1007', details: 'bad' });
    expect(JSON.stringify(lines)).not.toContain('secret');
    bus.close();
  });

  it('logs bodies when asked', async () => {
    const { logger, lines } = capture('debug');
    const bus = busWith(logger, true);
    await bus.send('zone', 'CreateZone', { name: 'z1' });
    await new Promise((r) => setImmediate(r));
    expect(lines[0].body).toEqual({ name: 'z1' });
    expect(lines[1].value).toEqual({ ok: true });
    bus.close();
  });

  it('logs nothing above debug level', async () => {
    const { logger, lines } = capture('info');
    const bus = busWith(logger);
    await bus.send('zone', 'CreateZone', {});
    await new Promise((r) => setImmediate(r));
    expect(lines).toEqual([]);
    bus.close();
  });
});
