import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCatalog } from '../../src/api/catalog.ts';
import { callApi } from '../../src/cli/client.ts';
import { FlatEip } from '../../src/agent/network/eip.ts';
import { ifbOf } from '../../src/agent/network/qos.ts';
import { agentDataDirOf } from '../../src/plugins/kvm/index.ts';
import { canRunAgentTests } from '../agent/harness.ts';
import { tinyGuest } from '../agent/tiny-guest.ts';
import { createPretendHost, type PretendHost } from '../support/pretend-host.ts';
import { startTestNode, type TestClient, type TestNode } from '../support/test-node.ts';
import { typeOnSerial, waitUntil } from '../support/guest-serial.ts';

/**
 * A flat EIP on a real guest, all through the API: a KVM host deployed by Ansible on a pretend host,
 * a TCG guest on the private NoVlan L2 (eth0; its IPAM address from a DHCP server the test runs on the
 * bridge, whose router option is the L3's gateway, where no router exists), and a public NoVlan L2 on
 * the host's eth1, a veth whose other end is an "outside" namespace on the public subnet. With the EIP
 * the outside reaches the guest's httpd at the VIP and the guest's own connections arrive from the
 * VIP; stopping the VM or deleting the EIP takes it away and leaves no namespace. The same guest's
 * NIC gets bandwidth limits through SetNicQos: tbf on its tap and on the tap's ifb, kept across a restart.
 */
const LONG = 360_000;
const NET = '192.168.172';
const PUB = '10.253.73';
const run = promisify(execFile);
const canRun = canRunAgentTests('iptables', 'ebtables', 'dnsmasq', 'nc', 'python3', 'ansible-playbook', 'sshd');

describe.skipIf(!canRun)('a flat EIP on a KVM host, a real guest, through the API', () => {
  let h: PretendHost;
  let t: TestNode;
  let c: TestClient;
  let rootDir: string;
  let dnsmasq: ChildProcess | undefined;
  const ids: Record<string, string> = {};
  const outside = `seipo-${Math.random().toString(36).slice(2, 8)}`;
  let vip = '';

  const api = async (name: string, params: Record<string, unknown>): Promise<any> => {
    const def = apiCatalog.find((a) => a.name === name);
    if (!def) throw new Error(`no API ${name}`);
    return callApi(def, params, { baseUrl: c.url, session: c.session, pollIntervalMs: 100, timeoutMs: LONG });
  };
  const inHost = async (...args: string[]) => (await h.exec(args[0], args.slice(1))).stdout;
  const fromOutside = (...args: string[]) => run('ip', ['netns', 'exec', outside, ...args]);
  const reachesVip = (port: number) => fromOutside('nc', '-z', '-w', '3', vip, String(port)).then(() => true, () => false);
  const serialLog = (vm: string) => join(agentDataDirOf(rootDir, ids.host), 'logs', `${vm}.serial.log`);
  const serial = (vm: string) => (existsSync(serialLog(vm)) ? readFileSync(serialLog(vm), 'utf8') : '');
  /** This test's EIP namespace on the host, when it exists (named from the agent's data directory and the EIP). */
  const eipNamespaces = async () => {
    const mine = new FlatEip(agentDataDirOf(rootDir, ids.host)).names(eipUuid).namespace;
    return (await run('ip', ['netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0]).filter((n) => n === mine);
  };
  let eipUuid = '';

  beforeAll(async () => {
    const image = join(tinyGuest(), 'tiny-guest.qcow2');
    h = await createPretendHost();
    rootDir = await mkdtemp(join(tmpdir(), 'strato-test-eip-'));
    t = await startTestNode('sqlite', { node: { host: h.gatewayIp, advertiseHost: h.gatewayIp } });
    c = await t.login();
    for (const category of ['kvm', 'imageStore']) await c.call('PUT', `/global-configurations/${category}/agent.rootDir/actions`, { updateGlobalConfig: { value: rootDir } });
    // the public segment: the host's eth1, whose peer is the outside's eth0
    await run('ip', ['netns', 'add', outside]);
    await inHost('ip', 'link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', outside);
    await inHost('ip', 'link', 'set', 'eth1', 'up');
    await run('ip', ['-n', outside, 'addr', 'add', `${PUB}.50/24`, 'dev', 'eth0']);
    await run('ip', ['-n', outside, 'link', 'set', 'eth0', 'up']);
    await run('ip', ['-n', outside, 'link', 'set', 'lo', 'up']);

    ids.zone = (await api('CreateZone', { name: 'eip-zone' })).inventory.uuid;
    ids.cluster = (await api('CreateCluster', { name: 'eip-cluster', zoneUuid: ids.zone, hypervisorType: 'KVM' })).inventory.uuid;
    ids.ps = (await api('AddLocalPrimaryStorage', { name: 'eip-ps', zoneUuid: ids.zone, url: join(rootDir, 'local-ps') })).inventory.uuid;
    await api('AttachPrimaryStorageToCluster', { clusterUuid: ids.cluster, primaryStorageUuid: ids.ps });
    for (const [key, iface] of [['l2', 'eth0'], ['pubL2', 'eth1']]) {
      ids[key] = (await api('CreateL2NoVlanNetwork', { name: `eip-${key}`, zoneUuid: ids.zone, physicalInterface: iface })).inventory.uuid;
      await api('AttachL2NetworkToCluster', { clusterUuid: ids.cluster, l2NetworkUuid: ids[key] });
    }
    ids.l3 = (await api('CreateL3Network', { name: 'eip-l3', l2NetworkUuid: ids.l2, category: 'Private' })).inventory.uuid;
    await api('AddIpRange', { l3NetworkUuid: ids.l3, name: 'eip-range', startIp: `${NET}.10`, endIp: `${NET}.100`, netmask: '255.255.255.0', gateway: `${NET}.1` });
    ids.pubL3 = (await api('CreateL3Network', { name: 'eip-pub', l2NetworkUuid: ids.pubL2, category: 'Public' })).inventory.uuid;
    await api('AddIpRange', { l3NetworkUuid: ids.pubL3, name: 'eip-pub-range', startIp: `${PUB}.100`, endIp: `${PUB}.150`, netmask: '255.255.255.0', gateway: `${PUB}.1` });
    ids.offering = (await api('CreateInstanceOffering', { name: 'eip-io', cpuNum: 1, memorySize: 256 * 1024 ** 2 })).inventory.uuid;
    const [host, bs] = await Promise.all([
      api('AddKVMHost', { name: 'eip-host', clusterUuid: ids.cluster, managementIp: h.ip, username: 'root', sshPrivateKey: h.privateKey }),
      api('AddImageStoreBackupStorage', { name: 'eip-bs', url: join(rootDir, 'image-store'), hostname: h.ip, username: 'root', sshPrivateKey: h.privateKey }),
    ]);
    ids.host = host.inventory.uuid;
    ids.bs = bs.inventory.uuid;
    await api('AttachBackupStorageToZone', { zoneUuid: ids.zone, backupStorageUuid: ids.bs });
    ids.image = (await api('AddImage', { name: 'tiny-guest', url: pathToFileURL(image).href, format: 'qcow2', mediaType: 'RootVolumeTemplate', platform: 'Linux', backupStorageUuids: [ids.bs] })).inventory.uuid;
  }, LONG);

  afterAll(async () => {
    dnsmasq?.kill('SIGKILL');
    if (ids.eip) await api('DeleteEip', { uuid: ids.eip }).catch(() => undefined);
    if (ids.vm) await api('DestroyVmInstance', { uuid: ids.vm }).catch(() => undefined);
    if (ids.host) await api('DeleteHost', { uuid: ids.host }).catch(() => undefined);
    if (ids.bs) await api('DeleteBackupStorage', { uuid: ids.bs }).catch(() => undefined);
    await run('ip', ['netns', 'del', outside]).catch(() => undefined);
    await t?.stop();
    await h?.destroy();
    if (rootDir) await rm(rootDir, { recursive: true, force: true });
  }, LONG);

  it('with an EIP the outside reaches the guest at the VIP and the guest\'s connections come from the VIP; stop and delete take it away; QoS limits its tap', async () => {
    const vm = (await api('CreateVmInstance', { name: 'eip-vm', instanceOfferingUuid: ids.offering, imageUuid: ids.image, l3NetworkUuids: [ids.l3] })).inventory;
    ids.vm = vm.uuid;
    const nic = vm.vmNics[0];
    // the guest asks DHCP: serve its IPAM address, and the L3's gateway as its router
    await inHost('ip', 'addr', 'add', `${NET}.2/24`, 'dev', 'br_eth0');
    const hosts = join(h.dir, 'dhcp-hosts');
    await writeFile(hosts, `${nic.mac},${nic.ip}\n`);
    dnsmasq = spawn('ip', ['netns', 'exec', h.name, 'dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--port=0', '--no-hosts', '--no-resolv', '--dhcp-authoritative',
      '--interface=br_eth0', '--bind-interfaces', '--user=root', `--dhcp-option=option:router,${NET}.1`, '--log-dhcp', `--log-facility=${join(h.dir, 'dnsmasq.log')}`,
      `--dhcp-range=${NET}.0,static,255.255.255.0`, `--dhcp-hostsfile=${hosts}`, `--dhcp-leasefile=${join(h.dir, 'leases')}`, `--pid-file=${join(h.dir, 'dnsmasq.pid')}`], { stdio: 'ignore' });
    await waitUntil(() => serial(vm.uuid).includes(`TINYGUEST-IP eth0 ${nic.ip}/24`), 200_000).catch((e: Error) => {
      throw new Error(`${e.message}; serial: ${serial(vm.uuid).slice(-1500)}`);
    });

    const v = (await api('CreateVip', { name: 'eip-vip', l3NetworkUuid: ids.pubL3 })).inventory;
    vip = v.ip;
    expect(await reachesVip(8080)).toBe(false);
    ids.eip = (await api('CreateEip', { name: 'eip', vipUuid: v.uuid, vmNicUuid: nic.uuid })).inventory.uuid;
    eipUuid = ids.eip;
    expect(await eipNamespaces()).toHaveLength(1);
    await waitUntil(() => reachesVip(8080), 30_000);
    expect((await fromOutside('sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${vip} 80`)).stdout).toContain('hello from');

    // the guest's own connection to the outside arrives from the VIP (SNAT)
    const seen = join(h.dir, 'eip-peer');
    const server = spawn('ip', ['netns', 'exec', outside, 'python3', '-c', [
      'import socket, sys', 's=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", 8071)); s.listen(1); s.settimeout(60)',
      'c,a=s.accept(); open(sys.argv[1], "w").write(a[0]); c.recv(1024); body=a[0].encode() + b"\\n"',
      'c.sendall(b"HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\nContent-Length: " + str(len(body)).encode() + b"\\r\\n\\r\\n" + body); c.close()'].join('\n'), seen], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 500));
      await typeOnSerial(join(agentDataDirOf(rootDir, ids.host), 'vms', vm.uuid, 'serial.sock'), `echo hello | nc -w 5 ${PUB}.50 8071; echo; echo EIPSNAT-END-$((6*7))`);
      await waitUntil(() => serial(vm.uuid).includes('EIPSNAT-END-42'), 60_000);
      // the outside's server wrote down who connected: the VIP, not the guest's private address
      expect(existsSync(seen) ? readFileSync(seen, 'utf8') : `nothing (serial: ${serial(vm.uuid).slice(-400)})`).toBe(vip);
    } finally {
      server.kill('SIGKILL');
    }

    // stopped: nothing answers at the VIP and the namespace is gone; started again: back
    await api('StopVmInstance', { uuid: vm.uuid });
    expect(await eipNamespaces()).toEqual([]);
    expect(await reachesVip(8080)).toBe(false);
    await api('StartVmInstance', { uuid: vm.uuid });
    expect(await eipNamespaces()).toHaveLength(1);
    await waitUntil(() => reachesVip(8080), 200_000);

    // NIC QoS on the real tap: set live, gone with the VM's stop, back at its start (carried by /vm/start)
    const tap = String(nic.internalName);
    const ifb = ifbOf(tap);
    const tbfRate = async (dev: string) => {
      const out = await inHost('tc', '-j', 'qdisc', 'show', 'dev', dev).catch(() => '[]');
      return (JSON.parse(out) as Array<{ kind: string; options?: { rate?: number } }>).find((q) => q.kind === 'tbf')?.options?.rate ?? null;
    };
    await api('SetNicQos', { uuid: nic.uuid, inboundBandwidth: 8_000_000, outboundBandwidth: 4_000_000 });
    expect([await tbfRate(tap), await tbfRate(ifb)]).toEqual([1_000_000, 500_000]); // bytes per second
    expect(await api('GetNicQos', { uuid: nic.uuid, forceSync: true })).toMatchObject({ inboundBandwidth: 8_000_000, outboundBandwidth: 4_000_000 });
    await api('StopVmInstance', { uuid: vm.uuid });
    expect(await inHost('ip', '-o', 'link')).not.toContain(ifb);
    await api('StartVmInstance', { uuid: vm.uuid });
    expect([await tbfRate(tap), await tbfRate(ifb)]).toEqual([1_000_000, 500_000]);
    await api('DeleteNicQos', { uuid: nic.uuid, direction: 'out' });
    expect([await tbfRate(tap), await tbfRate(ifb)]).toEqual([1_000_000, null]);
    await waitUntil(() => reachesVip(8080), 200_000);

    await api('DeleteEip', { uuid: ids.eip });
    delete ids.eip;
    expect(await eipNamespaces()).toEqual([]);
    expect(await reachesVip(8080)).toBe(false);
    expect(await inHost('ebtables', '-t', 'nat', '-L')).not.toContain('strato-eip-');
    await api('DestroyVmInstance', { uuid: vm.uuid });
    delete ids.vm;
  }, LONG);
});
