import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NicQosAgentPaths } from '../../src/contracts/nic-qos.ts';
import { ifbOf } from '../../src/agent/network/qos.ts';
import { newUuid } from '../../src/core/util/uuid.ts';
import { canRunAgentTests, linkHosts, PretendAgentHost } from './harness.ts';
import { tinyGuest } from './tiny-guest.ts';

const canRun = canRunAgentTests('qemu-system-x86_64', 'qemu-img', 'tc');
const MiB = 1024 * 1024;

/**
 * NIC limits follow a VM: a real TCG guest started with its NIC's inbound limit (a `/vm/start` NIC
 * field), given an outbound one live (`/vm/setnicqos`), then live-migrated to a second pretend host
 * (shared storage path): the destination's new tap and its ifb carry both limits, the source keeps no ifb.
 */
describe.skipIf(!canRun)('strato agent: NIC QoS at start, live, and across a live migration', () => {
  const src = new PretendAgentHost();
  const dst = new PretendAgentHost();
  const vmUuid = newUuid();
  const rootUuid = newUuid();
  let ips: { aIp: string; bIp: string };
  const nic = { uuid: newUuid(), mac: '52:54:00:12:34:9a', deviceId: 0, internalName: `vnic${vmUuid.slice(0, 8)}.0`, inboundBandwidth: 8_000_000 };
  const tap = nic.internalName;
  /** The tbf rate (bytes per second) on a device of a host, or null. */
  const rate = (h: PretendAgentHost, dev: string) => {
    try {
      return (JSON.parse(h.inNs(['tc', '-j', 'qdisc', 'show', 'dev', dev])) as Array<{ kind: string; options?: { rate?: number } }>).find((q) => q.kind === 'tbf')?.options?.rate ?? null;
    } catch {
      return null; // no such device
    }
  };

  beforeAll(async () => {
    const image = join(tinyGuest(), 'tiny-guest.qcow2');
    await src.setUp();
    await dst.setUp();
    ips = linkHosts(src, dst);
    await src.startAgent({ listen: '0.0.0.0' });
    await dst.startAgent({ listen: '0.0.0.0' });
    const root = join(src.dataDir, 'shared', `${rootUuid}.qcow2`);
    execFileSync('mkdir', ['-p', join(src.dataDir, 'shared')]);
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', image, '-F', 'qcow2', root]);
    await src.client.call(src.endpoint, '/vm/start', { vmInstanceUuid: vmUuid, vmName: 'mig-qos', cpuNum: 1, memorySize: 256 * MiB, rootVolume: { uuid: rootUuid, installPath: root, format: 'qcow2' }, nics: [nic] });
  }, 240_000);

  afterAll(async () => {
    await src.tearDown();
    await dst.tearDown();
  }, 60_000);

  it('the start limits the new tap; a live change is kept in the VM; the migration\'s destination limits its tap the same way', async () => {
    expect(rate(src, tap)).toBe(1_000_000);
    expect(rate(src, ifbOf(tap))).toBeNull();
    expect(await src.client.call(src.endpoint, NicQosAgentPaths.set, { vmInstanceUuid: vmUuid, nicUuid: nic.uuid, internalName: tap, outboundBandwidth: 4_000_000 })).toMatchObject({ inboundBandwidth: 8_000_000, outboundBandwidth: 4_000_000 });
    await src.client.call(src.endpoint, '/vm/migrate', { vmInstanceUuid: vmUuid, destHostUuid: newUuid(), destHostManagementIp: ips.bIp, destAgentToken: dst.token });
    expect([rate(dst, tap), rate(dst, ifbOf(tap))]).toEqual([1_000_000, 500_000]);
    expect(await dst.client.call(dst.endpoint, NicQosAgentPaths.get, { internalName: tap })).toMatchObject({ inboundBandwidth: 8_000_000, outboundBandwidth: 4_000_000 });
    // the source let go of the tap and its ifb
    expect(src.inNs(['ip', '-o', 'link'])).not.toContain(ifbOf(tap));
    expect(src.inNs(['ip', '-o', 'link'])).not.toContain(tap);
    await dst.client.call(dst.endpoint, '/vm/destroy', { vmInstanceUuid: vmUuid });
    expect(dst.inNs(['ip', '-o', 'link'])).not.toContain(ifbOf(tap));
  }, 180_000);
});
