import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostAgentPaths } from '../../src/contracts/host.ts';
import { ImageStoreAgentPaths } from '../../src/contracts/image-store-agent.ts';
import { LocalStorageAgentPaths } from '../../src/contracts/local-storage-agent.ts';
import { FlatEipAgentPaths } from '../../src/contracts/eip-agent.ts';
import { FlatDhcpAgentPaths, VxlanAgentPaths } from '../../src/contracts/network-agent.ts';
import { NicQosAgentPaths } from '../../src/contracts/nic-qos.ts';
import { SecurityGroupAgentPaths } from '../../src/contracts/security-group.ts';
import { VmAgentPaths } from '../../src/contracts/vm.ts';
import { VmNicAgentPaths } from '../../src/contracts/vm-nic.ts';
import { VmVolumeAgentPaths } from '../../src/contracts/vm-volume.ts';
import { canRunAgentTests, PretendAgentHost } from './harness.ts';

const canRun = canRunAgentTests();
const SYNC = new Set<string>([HostAgentPaths.connect, HostAgentPaths.echo, VmAgentPaths.migrateAbort]);
const ALL = [HostAgentPaths, VmAgentPaths, VmVolumeAgentPaths, VmNicAgentPaths, LocalStorageAgentPaths, ImageStoreAgentPaths, VxlanAgentPaths, FlatDhcpAgentPaths, FlatEipAgentPaths, NicQosAgentPaths, SecurityGroupAgentPaths].flatMap((p) => Object.values(p) as string[]);

/** Bodies a confused or hostile node could send: each must get an answer (success or an error as data), never a crash or a hang. */
const badBodies = (dir: string): unknown[] => [
  {},
  { vmInstanceUuid: 42, path: 'relative/path', installUrl: '../../etc/passwd', installPath: 7, size: -1, url: 'not-absolute', volume: {}, nic: { uuid: 'x' } },
  { vmInstanceUuid: 'f'.repeat(32), cpuNum: 1, memorySize: 1e9, rootVolume: { uuid: 'r', installPath: `${dir}/none/disk.qcow2` }, path: `${dir}/none/x`, srcPath: `${dir}/none/a`, destPath: `${dir}/none/b`, snapshotInstallPath: `${dir}/none/s`, volumeInstallPath: `${dir}/none/v`, backingPath: `${dir}/none/b` },
  { vni: '5', peers: 'all', vtepIp: '999.1.1.1', dstport: 0, l3NetworkUuid: '../../etc', bridgeName: 'br;rm', dhcpServerIp: 'x', dhcpNetmask: '255.0.255.0', dhcp: [{ mac: 'zz', ip: '1.2.3' }, null] },
  { vni: 5399, vtepIp: '192.0.2.99', peers: [], l3NetworkUuid: 'c'.repeat(32), bridgeName: 'br_vx_5399', dhcpServerIp: '192.0.2.2', dhcpNetmask: '255.255.255.0', dhcp: [{ mac: '52:54:00:00:00:01', ip: '192.0.2.5', netmask: '255.255.255.0', hostname: 'a,b\nc' }] },
  { eip: { eipUuid: '../x', vip: '1.2.3', nicName: 'tap;rm -rf /' }, eips: 'all', sync: 'yes', internalName: '../x', inboundBandwidth: -1, outboundBandwidth: '1mbit' },
  { eip: { eipUuid: 'e'.repeat(32), vip: '192.0.2.100', vipNetmask: '255.255.255.0', publicBridgeName: 'br_none1', vmBridgeName: 'br_none2', nicName: 'tapnone', nicIp: '192.0.2.5', nicMac: '52:54:00:00:00:01', nicNetmask: '255.255.255.0', nicGateway: '192.0.2.1' }, internalName: 'tapnone', outboundBandwidth: 8192 },
  { nics: [{ internalName: 'tap;rm', mac: '52:54:00:00:00:01', ips: ['1.2.3.4'], securityGroupUuids: ['x'] }, null], rules: { x: [{ type: 'Ingress', protocol: 'TCP', startPort: 1, endPort: 2, allowedCidr: '-j ACCEPT' }] } },
  { nics: [{ internalName: 'sgbad0', mac: '52:54:00:00:00:01', ips: [], securityGroupUuids: ['x'] }], rules: { x: [{ type: 'Ingress', protocol: 'ALL', allowedCidr: '0.0.0.0/0 -j ACCEPT', action: 'ACCEPT' }] } },
  [],
];

describe.skipIf(!canRun)('strato agent: bad input to every command', () => {
  const host = new PretendAgentHost();

  beforeAll(async () => {
    await host.setUp();
    await host.startAgent();
  }, 60_000);
  afterAll(() => host.tearDown());

  it('answers every command path, for every bad body, with success or AGENT.1002 — and keeps serving', async () => {
    const unexpected: string[] = [];
    for (const path of ALL) {
      for (const body of badBodies(host.dataDir)) {
        const send = SYNC.has(path) ? host.client.callSync(host.endpoint, path, body, { timeoutMs: 20_000 }) : host.client.call(host.endpoint, path, body, { timeoutMs: 20_000 });
        await send.catch((e: { errorCode?: { code: string; details?: string } }) => {
          if (e.errorCode?.code !== 'AGENT.1002') unexpected.push(`${path} ${JSON.stringify(body)}: ${JSON.stringify(e.errorCode ?? String(e))}`);
        });
      }
    }
    expect(unexpected).toEqual([]);
    expect(host.agent?.exitCode).toBeNull();
    await expect(host.client.callSync(host.endpoint, HostAgentPaths.echo, {})).resolves.toMatchObject({ success: true });
  }, 120_000);

  it('refuses to stop or destroy a VM named by an empty or path-like uuid, and removes nothing', async () => {
    const vms = join(host.dataDir, 'vms');
    mkdirSync(join(vms, 'keep-this-vm'), { recursive: true });
    const outside = join(host.dataDir, 'x');
    writeFileSync(outside, 'keep');
    for (const path of [VmAgentPaths.stop, VmAgentPaths.destroy]) {
      for (const vmInstanceUuid of ['', '../x', '..', '../../etc']) {
        await expect(host.client.call(host.endpoint, path, { vmInstanceUuid }, { timeoutMs: 20_000 })).rejects.toMatchObject({ errorCode: { code: 'AGENT.1002' } });
      }
    }
    expect(existsSync(join(vms, 'keep-this-vm'))).toBe(true);
    expect(readFileSync(outside, 'utf8')).toBe('keep');
  });

  it('refuses a body that is not JSON with 400, and an unknown path with 404', async () => {
    const res = await fetch(`${host.endpoint.url}/host/echo`, { method: 'POST', headers: { 'x-strato-agent-token': host.token }, body: '{nope' });
    expect(res.status).toBe(400);
    expect((await fetch(`${host.endpoint.url}/no/such/command`, { method: 'POST', headers: { 'x-strato-agent-token': host.token }, body: '{}' })).status).toBe(404);
  });
});
