import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AGENT_TOKEN_HEADER } from '../src/core/agent/index.ts';
import { newUuid } from '../src/core/util/uuid.ts';
import { migrateVm } from '../src/agent/vm/migrate.ts';
import type { VmSupervisor } from '../src/agent/vm/vm-supervisor.ts';

/**
 * The source side of a live migration when the destination's `/vm/migrate/incoming` fails (refused,
 * or its reply lost): the destination may have made a QEMU and disk files, so the source asks it to
 * abort, with the destination's token; the source VM is not touched. No QEMU needed: a fake VM and a
 * fake destination agent on loopback.
 */
describe('agent migration: a failed incoming request is aborted at the destination', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

  async function destination(incomingStatus: number): Promise<{ url: string; calls: Array<{ path: string; token: unknown; body: unknown }> }> {
    const calls: Array<{ path: string; token: unknown; body: unknown }> = [];
    server = createServer((req, res) => {
      let text = '';
      req.on('data', (c) => (text += String(c)));
      req.on('end', () => {
        calls.push({ path: req.url ?? '', token: req.headers[AGENT_TOKEN_HEADER], body: JSON.parse(text) });
        const ok = req.url !== '/vm/migrate/incoming';
        res.writeHead(ok ? 200 : incomingStatus, { 'content-type': 'application/json' }).end(JSON.stringify(ok ? { success: true } : { success: false, error: 'no room' }));
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}`, calls };
  }

  it('sends /vm/migrate/abort after the incoming request fails, and leaves the source VM as it was', async () => {
    const dest = await destination(500);
    const uuid = newUuid();
    const qmpCalls: string[] = [];
    const vm = { uuid, state: 'Running', incoming: false, migrating: false, spec: { vmInstanceUuid: uuid, rootVolume: { uuid: newUuid(), installPath: '/nonexistent/root.qcow2', format: 'qcow2' } }, qmp: { execute: (c: string) => (qmpCalls.push(c), Promise.resolve({})) } };
    const sup = { require: () => vm } as unknown as VmSupervisor;
    await expect(migrateVm(sup, { vmInstanceUuid: uuid, destHostManagementIp: '127.0.0.1', destAgentUrl: dest.url, destAgentToken: 'dest-token' })).rejects.toThrow(/answered HTTP 500/);
    expect(dest.calls.map((c) => c.path)).toEqual(['/vm/migrate/incoming', '/vm/migrate/abort']);
    expect(dest.calls[1]).toMatchObject({ token: 'dest-token', body: { vmInstanceUuid: uuid } });
    expect(qmpCalls).toEqual([]);
    expect(vm).toMatchObject({ state: 'Running', migrating: false });
  });
});
