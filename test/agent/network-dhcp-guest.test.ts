import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlatDhcpAgentPaths, VxlanAgentPaths } from '../../src/contracts/network-agent.ts';
import { newUuid } from '../../src/core/util/uuid.ts';
import { canRunAgentTests, PretendAgentHost, waitForSerial } from './harness.ts';
import { tinyGuest } from './tiny-guest.ts';

const canRun = canRunAgentTests('qemu-system-x86_64', 'qemu-img', 'dnsmasq', 'bridge', 'ebtables');
const MiB = 1024 * 1024;
/** Test-only addresses: 10.253.62.0/24 (network-vxlan-dhcp uses .61). */
const NET = '10.253.62';
const VNI = 5311;

describe.skipIf(!canRun)('agent networks: a real guest on a VXLAN bridge gets its IPAM address from the flat DHCP', () => {
  const host = new PretendAgentHost();
  const vmUuid = newUuid();
  const rootUuid = newUuid();
  const imageUuid = newUuid();
  const l3NetworkUuid = newUuid();
  const mac = '52:54:00:fd:62:21';
  const call = (path: string, body: unknown) => host.client.call(host.endpoint, path, body);

  beforeAll(async () => {
    const image = join(tinyGuest(), 'tiny-guest.qcow2');
    await host.setUp();
    await host.startAgent();
    const ps = join(host.dataDir, 'ps');
    const cache = `${ps}/imagecache/template/${imageUuid}/${imageUuid}.qcow2`;
    await call('/localstorage/init', { path: ps });
    await call('/localstorage/imagestore/download', { backupStorageInstallPath: `file://${image}`, primaryStorageInstallPath: cache });
    await call('/localstorage/volume/createvolumefromcache', { installUrl: `${ps}/root/${rootUuid}.qcow2`, templatePathInCache: cache, size: 0 });
  }, 240_000);

  afterAll(async () => {
    await call('/vm/destroy', { vmInstanceUuid: vmUuid }).catch(() => undefined);
    await call(FlatDhcpAgentPaths.deleteNamespace, { l3NetworkUuid }).catch(() => undefined);
    await host.tearDown();
  }, 60_000);

  it('TINYGUEST-IP is the address apply gave, with its gateway; after destroy the network comes down completely', async () => {
    await call(VxlanAgentPaths.createBridge, { vni: VNI, vtepIp: host.hostIp, peers: [] });
    await call(FlatDhcpAgentPaths.prepare, { l3NetworkUuid, bridgeName: `br_vx_${VNI}`, dhcpServerIp: `${NET}.2`, dhcpNetmask: '255.255.255.0' });
    await call(FlatDhcpAgentPaths.apply, { l3NetworkUuid, dhcp: [{ mac, ip: `${NET}.21`, netmask: '255.255.255.0', gateway: `${NET}.1`, hostname: 'tiny', dns: [`${NET}.53`] }] });
    const nic = { uuid: newUuid(), mac, deviceId: 0, internalName: `vnic${vmUuid.slice(0, 6)}.0`, bridgeName: `br_vx_${VNI}` };
    await call('/vm/start', { vmInstanceUuid: vmUuid, vmName: 'dhcp-guest', cpuNum: 1, memorySize: 256 * MiB, rootVolume: { uuid: rootUuid, installPath: join(host.dataDir, 'ps', 'root', `${rootUuid}.qcow2`), deviceId: 0, format: 'qcow2', type: 'Root' }, dataVolumes: [], nics: [nic] });
    const serial = await waitForSerial(join(host.dataDir, 'logs', `${vmUuid}.serial.log`), /TINYGUEST-IP eth0 \S+/, 120_000);
    expect(/TINYGUEST-IP eth0 (\S+) (\S*)/.exec(serial)?.slice(1)).toEqual([`${NET}.21/24`, `${NET}.1`]);

    await call('/vm/destroy', { vmInstanceUuid: vmUuid });
    await call(FlatDhcpAgentPaths.deleteNamespace, { l3NetworkUuid });
    expect(await call(VxlanAgentPaths.deleteBridge, { vni: VNI })).toMatchObject({ deleted: true });
    expect(existsSync(join(host.dataDir, 'dhcp', l3NetworkUuid))).toBe(false);
    expect(host.inNs(['ip', '-o', 'link']).match(/vxlan5311|br_vx_|vnic/g)).toBeNull();
  }, 180_000);
});
