import { execFile } from 'node:child_process';
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
import { agentDataDirOf } from '../../src/plugins/kvm/index.ts';
import { canRunAgentTests } from '../agent/harness.ts';
import { tinyGuest } from '../agent/tiny-guest.ts';
import { createPretendHost, type PretendHost } from '../support/pretend-host.ts';
import { startTestNode, type TestClient, type TestNode } from '../support/test-node.ts';
import { typeOnSerial, waitUntil } from '../support/guest-serial.ts';

const run = promisify(execFile);
const LONG = 420_000;
const MiB = 1024 * 1024;
/** Both L3 networks use one subnet: only the VXLAN separates them (the ranges differ so IPAM never repeats an address). */
const NET = '192.168.173';
const canRun = canRunAgentTests('qemu-system-x86_64', 'qemu-img', 'dnsmasq', 'bridge', 'ebtables', 'ansible-playbook', 'sshd');

/**
 * VXLAN networks with the Flat provider's DHCP, all through the API: two pretend hosts with agents
 * deployed by AddKVMHost, whose only link to each other is a direct veth (the VXLAN underlay; the
 * pool's VTEP CIDR is that link's subnet, so each VTEP address is found by the agent). Two VXLAN L3
 * networks with Flat DHCP and three TCG guests: each guest's DHCP lease is the address the API gave
 * it, guests of one VXLAN on different hosts ping each other, a guest of the other VXLAN is
 * unreachable even on the same subnet and host; destroying the VMs leaves no DHCP namespace, dnsmasq,
 * bridge or VTEP behind.
 */
describe.skipIf(!canRun)('VXLAN networks with flat DHCP on two KVM hosts, real guests, through the API', () => {
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
  /** The agent's DHCP namespace of an L3 on a host (named after its data directory and the L3). */
  const dhcpNamespace = (host: string, l3: string) => `strato-dhcp-${createHash('sha1').update(`${agentDataDirOf(rootDir, host)}\n${l3}`).digest('hex').slice(0, 12)}`;
  /** Each host's agent sees its own directory at the local storage's path, as two machines have two disks. */
  const privateStorage = async (h: PretendHost, host: string) => {
    mkdirSync(join(h.dir, 'ps'), { recursive: true });
    const agentPid = readFileSync(join(agentDataDirOf(rootDir, host), 'agent.pid'), 'utf8').trim();
    await run('nsenter', ['-t', agentPid, '-m', '--', 'mount', '--bind', join(h.dir, 'ps'), join(rootDir, 'local-ps')]);
  };
  const namespaces = async () => (await run('ip', ['netns', 'list'])).stdout;
  const dnsmasqs = async () => (await run('ps', ['-eo', 'args'])).stdout.split('\n').filter((l) => l.includes('dnsmasq') && l.includes(rootDir));

  beforeAll(async () => {
    const image = join(tinyGuest(), 'tiny-guest.qcow2');
    h1 = await createPretendHost();
    h2 = await createPretendHost();
    // The underlay: a direct link; each host's management address is routed over it too (the root namespace does not forward).
    const n = 1 + Math.floor(Math.random() * 250);
    const tag = Math.random().toString(36).slice(2, 8);
    ids.underlay = `10.252.${n}.0/24`;
    await run('ip', ['link', 'add', `vvx${tag}a`, 'type', 'veth', 'peer', 'name', `vvx${tag}b`]);
    for (const [h, end, ip, peer, peerIp] of [[h1, `vvx${tag}a`, `10.252.${n}.1`, h2, `10.252.${n}.2`], [h2, `vvx${tag}b`, `10.252.${n}.2`, h1, `10.252.${n}.1`]] as const) {
      await run('ip', ['link', 'set', end, 'netns', h.name]);
      await run('ip', ['-n', h.name, 'addr', 'add', `${ip}/24`, 'dev', end]);
      await run('ip', ['-n', h.name, 'link', 'set', end, 'up']);
      await run('ip', ['-n', h.name, 'route', 'add', `${peer.ip}/32`, 'via', peerIp]);
    }
    rootDir = await mkdtemp(join(tmpdir(), 'strato-test-vxlan-'));
    t = await startTestNode('sqlite', { node: { host: h1.gatewayIp, advertiseHost: h1.gatewayIp } });
    c = await t.login();
    for (const category of ['kvm', 'imageStore']) await c.call('PUT', `/global-configurations/${category}/agent.rootDir/actions`, { updateGlobalConfig: { value: rootDir } });
    ids.zone = (await api('CreateZone', { name: 'vx-zone' })).inventory.uuid;
    ids.cluster = (await api('CreateCluster', { name: 'vx-cluster', zoneUuid: ids.zone, hypervisorType: 'KVM' })).inventory.uuid;
    ids.ps = (await api('AddLocalPrimaryStorage', { name: 'vx-ps', zoneUuid: ids.zone, url: join(rootDir, 'local-ps') })).inventory.uuid;
    await api('AttachPrimaryStorageToCluster', { clusterUuid: ids.cluster, primaryStorageUuid: ids.ps });
    ids.pool = (await api('CreateL2VxlanNetworkPool', { name: 'vx-pool', zoneUuid: ids.zone })).inventory.uuid;
    await api('CreateVniRange', { l2NetworkUuid: ids.pool, name: 'vx-vnis', startVni: 7100, endVni: 7199 });
    await api('AttachL2NetworkToCluster', { clusterUuid: ids.cluster, l2NetworkUuid: ids.pool, systemTags: [`l2NetworkUuid::${ids.pool}::clusterUuid::${ids.cluster}::cidr::${ids.underlay}`] });
    const flat = (await api('QueryNetworkServiceProvider', { q: ['type=Flat'] })).inventories[0].uuid;
    for (const [i, range] of [[1, [10, 60]], [2, [110, 160]]] as const) {
      // Attached to the cluster with its pool.
      const l2 = (await api('CreateL2VxlanNetwork', { name: `vx-net${i}`, poolUuid: ids.pool, zoneUuid: ids.zone })).inventory.uuid;
      ids[`l3${i}`] = (await api('CreateL3Network', { name: `vx-l3-${i}`, l2NetworkUuid: l2, category: 'Private' })).inventory.uuid;
      await api('AddIpRange', { l3NetworkUuid: ids[`l3${i}`], name: `vx-range${i}`, startIp: `${NET}.${range[0]}`, endIp: `${NET}.${range[1]}`, netmask: '255.255.255.0', gateway: `${NET}.1` });
      await api('AttachNetworkServiceToL3Network', { l3NetworkUuid: ids[`l3${i}`], networkServices: { [flat]: ['DHCP'] } });
    }
    ids.offering = (await api('CreateInstanceOffering', { name: 'vx-io', cpuNum: 1, memorySize: 256 * MiB })).inventory.uuid;
    // Both hosts from the start: local storage keeps an image cache on each, so a VM is made on the host it is meant for.
    const [host1, host2, bs] = await Promise.all([
      api('AddKVMHost', { name: 'vx-h1', clusterUuid: ids.cluster, managementIp: h1.ip, username: 'root', sshPrivateKey: h1.privateKey }),
      api('AddKVMHost', { name: 'vx-h2', clusterUuid: ids.cluster, managementIp: h2.ip, username: 'root', sshPrivateKey: h2.privateKey }),
      api('AddImageStoreBackupStorage', { name: 'vx-bs', url: join(rootDir, 'image-store'), hostname: h1.ip, username: 'root', sshPrivateKey: h1.privateKey }),
    ]);
    ids.h1 = host1.inventory.uuid;
    ids.h2 = host2.inventory.uuid;
    await privateStorage(h1, ids.h1);
    await privateStorage(h2, ids.h2);
    ids.bs = bs.inventory.uuid;
    await api('AttachBackupStorageToZone', { zoneUuid: ids.zone, backupStorageUuid: ids.bs });
    ids.image = (await api('AddImage', { name: 'tiny-guest', url: pathToFileURL(image).href, format: 'qcow2', mediaType: 'RootVolumeTemplate', platform: 'Linux', backupStorageUuids: [ids.bs] })).inventory.uuid;
  }, LONG);

  afterAll(async () => {
    for (const vm of Object.values(vms)) await api('DestroyVmInstance', { uuid: vm.uuid }).catch(() => undefined);
    // Whatever a failed run left: the DHCP namespaces (and their dnsmasqs) are machine-wide.
    for (const host of [ids.h1, ids.h2]) {
      for (const l3 of [ids.l31, ids.l32]) {
        if (!host || !l3) continue;
        const ns = dhcpNamespace(host, l3);
        const pids = await run('ip', ['netns', 'pids', ns]).then((r) => r.stdout.split(/\s+/).filter(Boolean).map(Number), () => [] as number[]);
        for (const pid of pids) process.kill(pid, 'SIGKILL');
        await run('ip', ['netns', 'del', ns]).catch(() => undefined);
      }
    }
    for (const k of ['h1', 'h2']) if (ids[k]) await api('DeleteHost', { uuid: ids[k] }).catch(() => undefined);
    if (ids.bs) await api('DeleteBackupStorage', { uuid: ids.bs }).catch(() => undefined);
    await t?.stop();
    await h1?.destroy();
    await h2?.destroy();
    if (rootDir) await rm(rootDir, { recursive: true, force: true });
  }, LONG);

  it('each guest gets its API address by DHCP; one VXLAN spans the hosts after a migration, the other is cut off', async () => {
    const create = async (name: string, l3: string, host: string) => {
      const vm = (await api('CreateVmInstance', { name, instanceOfferingUuid: ids.offering, imageUuid: ids.image, l3NetworkUuids: [l3], hostUuid: host })).inventory;
      expect(vm.hostUuid).toBe(host);
      vms[name] = { uuid: vm.uuid, host, ip: vm.vmNics[0].ip };
    };
    // vx-c is made on h2 directly (from h2's own image cache); vx-b starts on h1 and migrates there below.
    await create('vx-a', ids.l31, ids.h1);
    await create('vx-b', ids.l31, ids.h1);
    await create('vx-c', ids.l32, ids.h2);
    for (const vm of Object.values(vms)) {
      await waitUntil(() => /TINYGUEST-IP eth0 \S+/.test(serial(vm)), 240_000).catch(async (e: Error) => {
        throw new Error(`${e.message}: ${vm.uuid} serial: ${serial(vm).slice(-1500)}; host links: ${await inHost(vm.host, 'ip', '-o', 'link')}`);
      });
      expect(/TINYGUEST-IP eth0 (\S+) (\S*)/.exec(serial(vm))?.slice(1)).toEqual([`${vm.ip}/24`, `${NET}.1`]);
    }
    // vx-b moves to h2, its VNI and lease made there before it arrives.
    await api('MigrateVm', { uuid: vms['vx-b'].uuid, hostUuid: ids.h2 });
    vms['vx-b'].host = ids.h2;
    const leases = (host: string, l3: string) => {
      const f = join(agentDataDirOf(rootDir, host), 'dhcp', l3, 'hosts');
      return existsSync(f) ? readFileSync(f, 'utf8') : '';
    };
    const nicB = (await api('QueryVmNic', { q: [`vmInstanceUuid=${vms['vx-b'].uuid}`] })).inventories[0];
    expect(leases(ids.h2, ids.l31)).toContain(nicB.mac);
    expect(leases(ids.h1, ids.l31)).not.toContain(nicB.mac);
    // Each host's VTEP is on the underlay, with the other host as its peer.
    const vni = Number((await api('QueryL2VxlanNetwork', { q: [`name=vx-net1`] })).inventories[0].vni);
    const vtep = JSON.parse(await inHost(ids.h1, 'ip', '-j', '-d', 'link', 'show', `vxlan${vni}`))[0];
    expect(vtep.linkinfo.info_data.local).toMatch(/^10\.252\./);
    expect(await inHost(ids.h1, 'bridge', 'fdb', 'show', 'dev', `vxlan${vni}`)).toContain(`dst ${vtep.linkinfo.info_data.local.replace(/\.1$/, '.2')}`);

    const ping = async (from: { uuid: string; host: string }, to: string, marker: string) => {
      await typeOnSerial(join(agentDataDirOf(rootDir, from.host), 'vms', from.uuid, 'serial.sock'), `ping -c 3 -W 2 ${to} >/dev/null 2>&1 && echo ${marker}-OK-$((6*7)) || echo ${marker}-NO-$((6*7))`);
      await waitUntil(() => new RegExp(`${marker}-(OK|NO)-42`).test(serial(from)), 60_000);
      return serial(from).includes(`${marker}-OK-42`);
    };
    expect(await ping(vms['vx-a'], vms['vx-b'].ip, 'ACROSS')).toBe(true);
    expect(await ping(vms['vx-b'], vms['vx-a'].ip, 'BACK')).toBe(true);
    expect(await ping(vms['vx-a'], vms['vx-c'].ip, 'OTHERVNI')).toBe(false);
    // The other VXLAN on the same subnet and the same host (h2) is cut off too.
    expect(await ping(vms['vx-b'], vms['vx-c'].ip, 'SAMEHOST')).toBe(false);
    // Reconnecting both hosts re-sends bridges, peers and leases (declarative): nothing in use is lost, and what
    // the node no longer wants there (a VNI's bridge, an L3's DHCP state left behind) goes.
    const staleL3 = 'f'.repeat(32);
    await inHost(ids.h1, 'ip', 'link', 'add', 'br_vx_7199', 'type', 'bridge');
    mkdirSync(join(agentDataDirOf(rootDir, ids.h1), 'dhcp', staleL3), { recursive: true });
    for (const host of [ids.h1, ids.h2]) await api('ReconnectHost', { uuid: host });
    expect(await inHost(ids.h1, 'ip', '-o', 'link')).not.toContain('br_vx_7199');
    expect(existsSync(join(agentDataDirOf(rootDir, ids.h1), 'dhcp', staleL3))).toBe(false);
    expect(leases(ids.h2, ids.l31)).toContain(nicB.mac);
    expect(await namespaces()).toContain(dhcpNamespace(ids.h2, ids.l32));
    expect(await ping(vms['vx-b'], vms['vx-a'].ip, 'AGAIN')).toBe(true);
  }, LONG);

  it('destroying the VMs leaves no DHCP namespace, dnsmasq, bridge or VTEP on either host', async () => {
    expect(await namespaces()).toContain(dhcpNamespace(ids.h1, ids.l31));
    for (const [name, vm] of Object.entries(vms)) {
      await api('DestroyVmInstance', { uuid: vm.uuid });
      delete vms[name];
    }
    const listed = await namespaces();
    for (const host of [ids.h1, ids.h2]) {
      for (const l3 of [ids.l31, ids.l32]) expect(listed).not.toContain(dhcpNamespace(host, l3));
      expect((await inHost(host, 'ip', '-o', 'link')).match(/vxlan\d+|br_vx_|vnic|vd[0-9a-f]{12}/g)).toBeNull();
      expect(existsSync(join(agentDataDirOf(rootDir, host), 'dhcp', ids.l31))).toBe(false);
    }
    expect(await dnsmasqs()).toEqual([]);
    // The DHCP server addresses went back to the IPAM with the last VM of each L3.
    expect((await api('QueryIpAddress', { q: ['usedFor=DHCP', `l3NetworkUuid?=${ids.l31},${ids.l32}`] })).inventories).toEqual([]);
  }, LONG);
});
