import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCatalog } from '../../src/api/catalog.ts';
import { callApi } from '../../src/cli/client.ts';
import { OvsSwitch } from '../../src/agent/network/ovs.ts';
import { agentDataDirOf } from '../../src/plugins/kvm/index.ts';
import { canRunAgentTests } from '../agent/harness.ts';
import { tinyGuest } from '../agent/tiny-guest.ts';
import { createPretendHost, type PretendHost } from '../support/pretend-host.ts';
import { startTestNode, type TestClient, type TestNode } from '../support/test-node.ts';
import { typeOnSerial, waitUntil } from '../support/guest-serial.ts';
import { processRuns } from '../../src/agent/process-alive.ts';

const run = promisify(execFile);
const LONG = 420_000;
const MiB = 1024 * 1024;
/** Both L3 networks use one subnet: only the VLAN separates them (the ranges differ so IPAM never repeats an address). */
const NET = '192.168.174';
const canRun = canRunAgentTests('qemu-system-x86_64', 'qemu-img', 'dnsmasq', 'bridge', 'ebtables', 'ansible-playbook', 'sshd', 'ovs-vswitchd', 'tcpdump');

/**
 * VLAN networks with the Flat provider's DHCP through the API, on two pretend KVM hosts whose kernel
 * has no 802.1Q: their agents report it and realize each VLAN through their own Open vSwitch. The
 * hosts' `eth9` are joined by a veth (the switch trunk between two machines); the management
 * addresses are routed over a second link. Two VLAN L3s (VLAN 100 and 200 on eth9) share one subnet,
 * three TCG guests: each gets its API address by DHCP, VLAN 100 reaches across the hosts with tag 100
 * on the trunk, VLAN 200 is cut off even on the same host.
 */
describe.skipIf(!canRun)('VLAN networks with flat DHCP on two KVM hosts through OVS, real guests, through the API', () => {
  let h1: PretendHost;
  let h2: PretendHost;
  let t: TestNode;
  let c: TestClient;
  let rootDir: string;
  const ids: Record<string, string> = {};
  const vms: Record<string, { uuid: string; host: string; ip: string }> = {};

  const api = async (name: string, params: Record<string, unknown>): Promise<any> => {
    const def = apiCatalog.find((a) => a.name === name);
    if (!def) throw new Error(`no API ${name}`);
    return callApi(def, params, { baseUrl: c.url, session: c.session, pollIntervalMs: 100, timeoutMs: LONG });
  };
  const pretend = (host: string) => (host === ids.h1 ? h1 : h2);
  const inHost = async (host: string, ...args: string[]) => (await pretend(host).exec(args[0], args.slice(1))).stdout;
  const serialLog = (vm: { uuid: string; host: string }) => join(agentDataDirOf(rootDir, vm.host), 'logs', `${vm.uuid}.serial.log`);
  const serial = (vm: { uuid: string; host: string }) => (existsSync(serialLog(vm)) ? readFileSync(serialLog(vm), 'utf8') : '');
  const dhcpNamespace = (host: string, l3: string) => `strato-dhcp-${createHash('sha1').update(`${agentDataDirOf(rootDir, host)}\n${l3}`).digest('hex').slice(0, 12)}`;
  const privateStorage = async (h: PretendHost, host: string) => {
    mkdirSync(join(h.dir, 'ps'), { recursive: true });
    const agentPid = readFileSync(join(agentDataDirOf(rootDir, host), 'agent.pid'), 'utf8').trim();
    await run('nsenter', ['-t', agentPid, '-m', '--', 'mount', '--bind', join(h.dir, 'ps'), join(rootDir, 'local-ps')]);
  };

  beforeAll(async () => {
    const image = join(tinyGuest(), 'tiny-guest.qcow2');
    h1 = await createPretendHost();
    h2 = await createPretendHost();
    const n = 1 + Math.floor(Math.random() * 250);
    const tag = Math.random().toString(36).slice(2, 8);
    // Management link between the hosts (migration, image cache) and the VLAN trunk eth9, two veths.
    await run('ip', ['link', 'add', `vvl${tag}a`, 'type', 'veth', 'peer', 'name', `vvl${tag}b`]);
    await run('ip', ['link', 'add', `vtk${tag}a`, 'type', 'veth', 'peer', 'name', `vtk${tag}b`]);
    for (const [h, end, trunk, ip, peer, peerIp] of [[h1, `vvl${tag}a`, `vtk${tag}a`, `10.252.${n}.1`, h2, `10.252.${n}.2`], [h2, `vvl${tag}b`, `vtk${tag}b`, `10.252.${n}.2`, h1, `10.252.${n}.1`]] as const) {
      await run('ip', ['link', 'set', end, 'netns', h.name]);
      await run('ip', ['-n', h.name, 'addr', 'add', `${ip}/24`, 'dev', end]);
      await run('ip', ['-n', h.name, 'link', 'set', end, 'up']);
      await run('ip', ['-n', h.name, 'route', 'add', `${peer.ip}/32`, 'via', peerIp]);
      await run('ip', ['link', 'set', trunk, 'netns', h.name]);
      await run('ip', ['-n', h.name, 'link', 'set', trunk, 'name', 'eth9']);
      await run('ip', ['-n', h.name, 'link', 'set', 'eth9', 'up']);
    }
    rootDir = await mkdtemp(join(tmpdir(), 'strato-test-vlan-'));
    t = await startTestNode('sqlite', { node: { host: h1.gatewayIp, advertiseHost: h1.gatewayIp } });
    c = await t.login();
    for (const category of ['kvm', 'imageStore']) await c.call('PUT', `/global-configurations/${category}/agent.rootDir/actions`, { updateGlobalConfig: { value: rootDir } });
    ids.zone = (await api('CreateZone', { name: 'vl-zone' })).inventory.uuid;
    ids.cluster = (await api('CreateCluster', { name: 'vl-cluster', zoneUuid: ids.zone, hypervisorType: 'KVM' })).inventory.uuid;
    ids.ps = (await api('AddLocalPrimaryStorage', { name: 'vl-ps', zoneUuid: ids.zone, url: join(rootDir, 'local-ps') })).inventory.uuid;
    await api('AttachPrimaryStorageToCluster', { clusterUuid: ids.cluster, primaryStorageUuid: ids.ps });
    const flat = (await api('QueryNetworkServiceProvider', { q: ['type=Flat'] })).inventories[0].uuid;
    for (const [vlan, range] of [[100, [10, 60]], [200, [110, 160]]] as const) {
      const l2 = (await api('CreateL2VlanNetwork', { name: `vl-net${vlan}`, zoneUuid: ids.zone, physicalInterface: 'eth9', vlan })).inventory.uuid;
      await api('AttachL2NetworkToCluster', { clusterUuid: ids.cluster, l2NetworkUuid: l2 });
      ids[`l3${vlan}`] = (await api('CreateL3Network', { name: `vl-l3-${vlan}`, l2NetworkUuid: l2, category: 'Private' })).inventory.uuid;
      await api('AddIpRange', { l3NetworkUuid: ids[`l3${vlan}`], name: `vl-range${vlan}`, startIp: `${NET}.${range[0]}`, endIp: `${NET}.${range[1]}`, netmask: '255.255.255.0', gateway: `${NET}.1` });
      await api('AttachNetworkServiceToL3Network', { l3NetworkUuid: ids[`l3${vlan}`], networkServices: { [flat]: ['DHCP'] } });
    }
    ids.offering = (await api('CreateInstanceOffering', { name: 'vl-io', cpuNum: 1, memorySize: 256 * MiB })).inventory.uuid;
    // h1 first (local storage: the image's cache is made there); h2 joins later and a VM moves to it.
    const [host1, bs] = await Promise.all([
      api('AddKVMHost', { name: 'vl-h1', clusterUuid: ids.cluster, managementIp: h1.ip, username: 'root', sshPrivateKey: h1.privateKey }),
      api('AddImageStoreBackupStorage', { name: 'vl-bs', url: join(rootDir, 'image-store'), hostname: h1.ip, username: 'root', sshPrivateKey: h1.privateKey }),
    ]);
    ids.h1 = host1.inventory.uuid;
    await privateStorage(h1, ids.h1);
    ids.bs = bs.inventory.uuid;
    await api('AttachBackupStorageToZone', { zoneUuid: ids.zone, backupStorageUuid: ids.bs });
    ids.image = (await api('AddImage', { name: 'tiny-guest', url: pathToFileURL(image).href, format: 'qcow2', mediaType: 'RootVolumeTemplate', platform: 'Linux', backupStorageUuids: [ids.bs] })).inventory.uuid;
  }, LONG);

  afterAll(async () => {
    for (const vm of Object.values(vms)) await api('DestroyVmInstance', { uuid: vm.uuid }).catch(() => undefined);
    for (const host of [ids.h1, ids.h2]) {
      if (!host) continue;
      for (const l3 of [ids.l3100, ids.l3200]) {
        if (!l3) continue;
        const ns = dhcpNamespace(host, l3);
        const pids = await run('ip', ['netns', 'pids', ns]).then((r) => r.stdout.split(/\s+/).filter(Boolean).map(Number), () => [] as number[]);
        for (const pid of pids) process.kill(pid, 'SIGKILL');
        await run('ip', ['netns', 'del', ns]).catch(() => undefined);
      }
    }
    for (const k of ['h1', 'h2']) if (ids[k]) await api('DeleteHost', { uuid: ids[k] }).catch(() => undefined);
    // DeleteHost stops each agent's OVS; whatever a failed run left is stopped here.
    for (const k of ['h1', 'h2']) if (ids[k]) await new OvsSwitch(agentDataDirOf(rootDir, ids[k])).stop();
    if (ids.bs) await api('DeleteBackupStorage', { uuid: ids.bs }).catch(() => undefined);
    await t?.stop();
    await h1?.destroy();
    await h2?.destroy();
    if (rootDir) await rm(rootDir, { recursive: true, force: true });
  }, LONG);

  it('the hosts report VLAN support through OVS; each guest gets its API address by DHCP; VLAN 100 spans the hosts tagged on the trunk, VLAN 200 is cut off', async () => {
    expect((await api('QueryHost', { q: [`uuid=${ids.h1}`, '__systemTag__=vlanSupported::true'] })).inventories).toHaveLength(1);
    const create = async (name: string, l3: string) => {
      const vm = (await api('CreateVmInstance', { name, instanceOfferingUuid: ids.offering, imageUuid: ids.image, l3NetworkUuids: [l3], hostUuid: ids.h1 })).inventory;
      vms[name] = { uuid: vm.uuid, host: ids.h1, ip: vm.vmNics[0].ip };
    };
    await create('vl-a', ids.l3100);
    await create('vl-b', ids.l3100);
    await create('vl-c', ids.l3200);
    for (const vm of Object.values(vms)) {
      await waitUntil(() => /TINYGUEST-IP eth0 \S+/.test(serial(vm)), 240_000).catch(async (e: Error) => {
        throw new Error(`${e.message}: ${vm.uuid} serial: ${serial(vm).slice(-1500)}; host links: ${await inHost(vm.host, 'ip', '-o', 'link')}`);
      });
      expect(/TINYGUEST-IP eth0 (\S+) (\S*)/.exec(serial(vm))?.slice(1)).toEqual([`${vm.ip}/24`, `${NET}.1`]);
    }
    // ZStack's layout on the host: br_eth9_<vid> holds eth9.<vid>, here the agent's OVS access port.
    const links = await inHost(ids.h1, 'ip', '-o', 'link');
    expect(links).toMatch(/eth9\.100: .* master br_eth9_100/);
    expect(links).toMatch(/eth9\.200: .* master br_eth9_200/);

    ids.h2 = (await api('AddKVMHost', { name: 'vl-h2', clusterUuid: ids.cluster, managementIp: h2.ip, username: 'root', sshPrivateKey: h2.privateKey })).inventory.uuid;
    await privateStorage(h2, ids.h2);
    await api('MigrateVm', { uuid: vms['vl-b'].uuid, hostUuid: ids.h2 });
    vms['vl-b'].host = ids.h2;

    const ping = async (from: { uuid: string; host: string }, to: string, marker: string) => {
      await typeOnSerial(join(agentDataDirOf(rootDir, from.host), 'vms', from.uuid, 'serial.sock'), `ping -c 3 -W 2 ${to} >/dev/null 2>&1 && echo ${marker}-OK-$((6*7)) || echo ${marker}-NO-$((6*7))`);
      await waitUntil(() => new RegExp(`${marker}-(OK|NO)-42`).test(serial(from)), 60_000);
      return serial(from).includes(`${marker}-OK-42`);
    };
    // A capture on h2's end of the trunk while vl-a (h1) pings vl-b (h2): tag 100 on the wire.
    const capture = spawn('ip', ['netns', 'exec', h2.name, 'timeout', '90', 'tcpdump', '-nn', '-e', '-l', '-i', 'eth9', '-c', '1', `vlan 100 and icmp and host ${vms['vl-b'].ip}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let wire = '';
    let captureLog = '';
    capture.stdout.on('data', (d: Buffer) => (wire += d.toString()));
    capture.stderr.on('data', (d: Buffer) => (captureLog += d.toString()));
    const captured = new Promise((r) => capture.once('exit', r));
    await waitUntil(() => captureLog.includes('listening on'), 15_000);
    expect(await ping(vms['vl-a'], vms['vl-b'].ip, 'ACROSS')).toBe(true);
    await captured;
    expect(wire).toMatch(/ethertype 802\.1Q \(0x8100\).*vlan 100.*ICMP echo/);
    expect(await ping(vms['vl-b'], vms['vl-a'].ip, 'BACK')).toBe(true);
    // TCP between virtio guests across the trunk: the userspace datapath's unfinished-checksum pitfall would drop it.
    await typeOnSerial(join(agentDataDirOf(rootDir, vms['vl-a'].host), 'vms', vms['vl-a'].uuid, 'serial.sock'), `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${vms['vl-b'].ip} 80 | grep -q hello && echo HTTP-OK-$((6*7)) || echo HTTP-NO-$((6*7))`);
    await waitUntil(() => /HTTP-(OK|NO)-42/.test(serial(vms['vl-a'])), 60_000);
    expect(serial(vms['vl-a'])).toContain('HTTP-OK-42');
    // Same subnet, VLAN 200: unreachable from VLAN 100, on the same host.
    expect(await ping(vms['vl-a'], vms['vl-c'].ip, 'OTHERVLAN')).toBe(false);
  }, LONG);

  it('destroying the VMs leaves no DHCP namespace; deleting the hosts stops their agents\' OVS daemons', async () => {
    const pidFiles = [ids.h1, ids.h2].flatMap((h) => ['ovs-vswitchd', 'ovsdb-server'].map((d) => join(agentDataDirOf(rootDir, h), 'ovs', `${d}.pid`)));
    const pids = pidFiles.map((f) => Number(readFileSync(f, 'utf8').trim()));
    expect(pids.filter(alive)).toHaveLength(4);
    for (const [name, vm] of Object.entries(vms)) {
      await api('DestroyVmInstance', { uuid: vm.uuid });
      delete vms[name];
    }
    const dhcp = [ids.h1, ids.h2].flatMap((h) => [ids.l3100, ids.l3200].map((l3) => dhcpNamespace(h, l3)));
    expect((await run('ip', ['netns', 'list'])).stdout.split('\n').filter((l) => dhcp.includes(l.split(' ')[0]))).toEqual([]);
    for (const k of ['h1', 'h2']) {
      await api('DeleteHost', { uuid: ids[k] });
      delete ids[k];
    }
    await waitUntil(() => !pids.some(alive), 20_000);
  }, LONG);
});

/** Alive and not a zombie waiting for its parent (init) to reap it. */
const alive = (pid: number) => processRuns(pid);
