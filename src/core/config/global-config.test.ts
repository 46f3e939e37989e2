import { afterEach, describe, expect, it } from 'vitest';
import { freshTestDatabase, migrate, testDatabaseKinds, type TestDatabase } from '../db/index.ts';
import { GlobalConfig, globalConfigMigration } from './global-config.ts';

describe.each(testDatabaseKinds())('global configuration on %s', (kind) => {
  let t: TestDatabase | undefined;
  afterEach(async () => { await t?.drop(); t = undefined; });

  async function setup() {
    t = await freshTestDatabase(kind);
    await migrate(t, [globalConfigMigration]);
    const config = new GlobalConfig();
    const interval = config.define({ category: 'host', name: 'ping.interval', type: 'number', defaultValue: 60, min: 1, description: 'seconds' });
    const auto = config.define({ category: 'host', name: 'autoReconnect', type: 'boolean', defaultValue: true, description: 'reconnect' });
    await config.load(t.db);
    return { config, interval, auto };
  }

  it('starts from defaults, persists updates and notifies observers with the typed value', async () => {
    const { config, interval, auto } = await setup();
    expect(interval.get()).toBe(60);
    const seen: Array<[number, number]> = [];
    interval.onChange((v, old) => { seen.push([v, old]); });
    await config.update('host', 'ping.interval', '30');
    await config.update('host', 'autoReconnect', 'false');
    expect(interval.get()).toBe(30);
    expect(auto.get()).toBe(false);
    expect(seen).toEqual([[30, 60]]);

    const again = new GlobalConfig();
    const reloaded = again.define({ category: 'host', name: 'ping.interval', type: 'number', defaultValue: 60, min: 1, description: 'seconds' });
    await again.load(t!.db);
    expect(reloaded.get()).toBe(30);
  });

  it('refuses a wrongly typed or out-of-range value and keeps the old one', async () => {
    const { config, interval } = await setup();
    await expect(config.update('host', 'ping.interval', 'soon')).rejects.toMatchObject({ errorCode: { code: 'SYS.1007' } });
    await expect(config.update('host', 'ping.interval', '0')).rejects.toThrow(/>= 1/);
    await expect(config.update('host', 'autoReconnect', 'yes')).rejects.toThrow(/true or false/);
    await expect(config.update('host', 'nope', '1')).rejects.toThrow(/no global configuration host.nope/);
    expect(interval.get()).toBe(60);
    const row = await t!.db.selectFrom('global_config').selectAll().where('name', '=', 'ping.interval').executeTakeFirstOrThrow();
    expect(row.value).toBe('60');
  });
});
