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
import { agentDataDirOf } from '../../src/plugins/kvm/index.ts';
import { canRunAgentTests } from '../agent/harness.ts';
import { tinyGuest } from '../agent/tiny-guest.ts';
import { createPretendHost, type PretendHost } from '../support/pretend-host.ts';
import { startTestNode, type TestClient, type TestNode } from '../support/test-node.ts';
import { typeOnSerial, waitUntil } from '../support/guest-serial.ts';

/**
 * Security groups on a real guest, all through the API: a KVM host deployed by Ansible on a pretend
 * host, two TCG guests on the NoVlan bridge (the tiny image serves HTTP on 80 and 8080), a DHCP server
 * the test runs on the bridge handing them their IPAM addresses, and an "outsider" namespace on the
 * same bridge. The group lets tcp/8080 in: the outsider reaches 8080, not 80 and not ping, while the
 * other member guest reaches 80 (the group's default rule); a rule added opens 80 at once; leaving the
 * group opens everything; destroying the VMs leaves no chain.
 */
const LONG = 360_000;
const NET = '192.168.171';
const run = promisify(execFile);
const canRun = canRunAgentTests('iptables', 'dnsmasq', 'nc', 'ping', 'ansible-playbook', 'sshd');

describe.skipIf(!canRun)('security groups on a KVM host, a real guest, through the API', () => {
  let h: PretendHost;
  let t: TestNode;
  let c: TestClient;
  let rootDir: string;
  let dnsmasq: ChildProcess | undefined;
  const ids: Record<string, string> = {};
  const outsider = `ssgo-${Math.random().toString(36).slice(2, 8)}`;
  const outsiderPort = `sgo${outsider.slice(5)}`;
  let vmIp = '';

  const api = async (name: string, params: Record<string, unknown>): Promise<any> => {
    const def = apiCatalog.find((a) => a.name === name);
    if (!def) throw new Error(`no API ${name}`);
    return callApi(def, params, { baseUrl: c.url, session: c.session, pollIntervalMs: 100, timeoutMs: LONG });
  };
  const inHost = async (...args: string[]) => (await h.exec(args[0], args.slice(1))).stdout;
  const fromOutsider = (...args: string[]) => run('ip', ['netns', 'exec', outsider, ...args]).then(() => true, () => false);
  const connects = (port: number) => fromOutsider('nc', '-z', '-w', '3', vmIp, String(port));
  const pings = () => fromOutsider('ping', '-c', '1', '-W', '2', vmIp);
  const serialLog = (vm: string) => join(agentDataDirOf(rootDir, ids.host), 'logs', `${vm}.serial.log`);
  const serial = (vm: string) => (existsSync(serialLog(vm)) ? readFileSync(serialLog(vm), 'utf8') : '');

  beforeAll(async () => {
    const image = join(tinyGuest(), 'tiny-guest.qcow2');
    h = await createPretendHost();
    rootDir = await mkdtemp(join(tmpdir(), 'strato-test-sg-'));
    t = await startTestNode('sqlite', { node: { host: h.gatewayIp, advertiseHost: h.gatewayIp }, keepWarnings: true });
    c = await t.login();
    for (const category of ['kvm', 'imageStore']) await c.call('PUT', `/global-configurations/${category}/agent.rootDir/actions`, { updateGlobalConfig: { value: rootDir } });
    ids.zone = (await api('CreateZone', { name: 'sg-zone' })).inventory.uuid;
    ids.cluster = (await api('CreateCluster', { name: 'sg-cluster', zoneUuid: ids.zone, hypervisorType: 'KVM' })).inventory.uuid;
    ids.ps = (await api('AddLocalPrimaryStorage', { name: 'sg-ps', zoneUuid: ids.zone, url: join(rootDir, 'local-ps') })).inventory.uuid;
    await api('AttachPrimaryStorageToCluster', { clusterUuid: ids.cluster, primaryStorageUuid: ids.ps });
    ids.l2 = (await api('CreateL2NoVlanNetwork', { name: 'sg-l2', zoneUuid: ids.zone, physicalInterface: 'eth0' })).inventory.uuid;
    await api('AttachL2NetworkToCluster', { clusterUuid: ids.cluster, l2NetworkUuid: ids.l2 });
    ids.l3 = (await api('CreateL3Network', { name: 'sg-l3', l2NetworkUuid: ids.l2, category: 'Private' })).inventory.uuid;
    await api('AddIpRange', { l3NetworkUuid: ids.l3, name: 'sg-range', startIp: `${NET}.10`, endIp: `${NET}.100`, netmask: '255.255.255.0', gateway: `${NET}.1` });
    const provider = (await api('QueryNetworkServiceProvider', { q: ['type=SecurityGroup'] })).inventories[0].uuid;
    await api('AttachNetworkServiceToL3Network', { l3NetworkUuid: ids.l3, networkServices: { [provider]: ['SecurityGroup'] } });
    ids.offering = (await api('CreateInstanceOffering', { name: 'sg-io', cpuNum: 1, memorySize: 256 * 1024 ** 2 })).inventory.uuid;
    const [host, bs] = await Promise.all([
      api('AddKVMHost', { name: 'sg-host', clusterUuid: ids.cluster, managementIp: h.ip, username: 'root', sshPrivateKey: h.privateKey }),
      api('AddImageStoreBackupStorage', { name: 'sg-bs', url: join(rootDir, 'image-store'), hostname: h.ip, username: 'root', sshPrivateKey: h.privateKey }),
    ]);
    ids.host = host.inventory.uuid;
    ids.bs = bs.inventory.uuid;
    await api('AttachBackupStorageToZone', { zoneUuid: ids.zone, backupStorageUuid: ids.bs });
    ids.image = (await api('AddImage', { name: 'tiny-guest', url: pathToFileURL(image).href, format: 'qcow2', mediaType: 'RootVolumeTemplate', platform: 'Linux', backupStorageUuids: [ids.bs] })).inventory.uuid;
    const sg = await api('CreateSecurityGroup', { name: 'web' });
    ids.sg = sg.inventory.uuid;
    await api('AttachSecurityGroupToL3Network', { securityGroupUuid: ids.sg, l3NetworkUuid: ids.l3 });
    await api('AddSecurityGroupRule', { securityGroupUuid: ids.sg, rules: [{ type: 'Ingress', protocol: 'TCP', startPort: 8080, endPort: 8080, allowedCidr: '0.0.0.0/0' }] });
  }, LONG);

  afterAll(async () => {
    dnsmasq?.kill('SIGKILL');
    await run('ip', ['netns', 'del', outsider]).catch(() => undefined);
    for (const vm of [ids.vm, ids.peer]) if (vm) await api('DestroyVmInstance', { uuid: vm }).catch(() => undefined);
    if (ids.host) await api('DeleteHost', { uuid: ids.host }).catch(() => undefined);
    if (ids.bs) await api('DeleteBackupStorage', { uuid: ids.bs }).catch(() => undefined);
    await t?.stop();
    await h?.destroy();
    if (rootDir) await rm(rootDir, { recursive: true, force: true });
  }, LONG);

  it('a guest in a group allowing tcp/8080 is reachable there and not on tcp/80 or by ping, except from a member; a rule added opens 80 at once', async () => {
    const create = async (name: string) => (await api('CreateVmInstance', { name, instanceOfferingUuid: ids.offering, imageUuid: ids.image, l3NetworkUuids: [ids.l3] })).inventory;
    const vm = await create('sg-vm');
    ids.vm = vm.uuid;
    const peer = await create('sg-peer');
    ids.peer = peer.uuid;
    const [nic, peerNic] = [vm.vmNics[0], peer.vmNics[0]];
    vmIp = nic.ip;
    // the guests ask DHCP for their addresses: serve them the ones IPAM gave, from the host's bridge
    await inHost('ip', 'addr', 'add', `${NET}.1/24`, 'dev', 'br_eth0');
    const hosts = join(h.dir, 'dhcp-hosts');
    await writeFile(hosts, `${nic.mac},${nic.ip}\n${peerNic.mac},${peerNic.ip}\n`);
    dnsmasq = spawn('ip', ['netns', 'exec', h.name, 'dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--port=0', '--no-hosts', '--no-resolv', '--dhcp-authoritative',
      '--interface=br_eth0', '--bind-interfaces', '--user=root', '--log-dhcp', `--log-facility=${join(h.dir, 'dnsmasq.log')}`,
      `--dhcp-range=${NET}.0,static,255.255.255.0`, `--dhcp-hostsfile=${hosts}`, `--dhcp-leasefile=${join(h.dir, 'leases')}`, `--pid-file=${join(h.dir, 'dnsmasq.pid')}`], { stdio: 'ignore' });
    // an outsider on the same bridge (a namespace on a veth port: bridged like any guest)
    await run('ip', ['netns', 'add', outsider]);
    await inHost('ip', 'link', 'add', outsiderPort, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', outsider);
    await inHost('ip', 'link', 'set', outsiderPort, 'master', 'br_eth0');
    await inHost('ip', 'link', 'set', outsiderPort, 'up');
    await run('ip', ['-n', outsider, 'addr', 'add', `${NET}.200/24`, 'dev', 'eth0']);
    await run('ip', ['-n', outsider, 'link', 'set', 'eth0', 'up']);

    await api('AddVmNicToSecurityGroup', { securityGroupUuid: ids.sg, vmNicUuids: [nic.uuid, peerNic.uuid] });
    for (const [v, ip] of [[vm.uuid, nic.ip], [peer.uuid, peerNic.ip]]) {
      await waitUntil(() => serial(v).includes(`TINYGUEST-IP eth0 ${ip}/24`), 200_000).catch(async (e: Error) => {
        const dhcpLog = existsSync(join(h.dir, 'dnsmasq.log')) ? readFileSync(join(h.dir, 'dnsmasq.log'), 'utf8') : '(none)';
        throw new Error(`${e.message}; serial: ${serial(v).slice(-1500)}; dnsmasq exit ${String(dnsmasq?.exitCode)}, log: ${dhcpLog.slice(-1500)}; iptables: ${await inHost('iptables', '-S')}`);
      });
    }
    const rules = await inHost('iptables', '-S');
    // when this fails, what the node and the host's agent said about it is in the message
    if (!rules.includes(`sgi-${nic.internalName}`)) {
      const agentLog = join(agentDataDirOf(rootDir, ids.host), 'agent.log');
      const host = (await api('QueryHost', { q: [`uuid=${ids.host}`] })).inventories[0];
      throw new Error(`no chain sgi-${nic.internalName} on the host (host ${host?.status}); node warnings: ${t.warnings.join('\n').slice(-3000)}; agent log: ${existsSync(agentLog) ? readFileSync(agentLog, 'utf8').slice(-3000) : '(none)'}; iptables: ${rules.slice(0, 1500)}`);
    }
    await waitUntil(() => connects(8080), 30_000); // httpd starts right after the address
    expect(await connects(80)).toBe(false);
    expect(await pings()).toBe(false);
    // the group's default rule lets members in: the peer guest fetches port 80 (busybox nc: its static wget crashes)
    await typeOnSerial(join(agentDataDirOf(rootDir, ids.host), 'vms', peer.uuid, 'serial.sock'), `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${vmIp} 80 | sed 's/^/SGPEER-GOT /'; echo SGPEER-END-$((6*7))`);
    await waitUntil(() => serial(peer.uuid).includes('SGPEER-END-42'), 60_000);
    expect(serial(peer.uuid)).toContain('SGPEER-GOT hello from');

    await api('AddSecurityGroupRule', { securityGroupUuid: ids.sg, rules: [{ type: 'Ingress', protocol: 'TCP', startPort: 80, endPort: 80, allowedCidr: `${NET}.200/32` }, { type: 'Ingress', protocol: 'ICMP', allowedCidr: `${NET}.200/32` }] });
    expect(await connects(80)).toBe(true);
    expect(await pings()).toBe(true);
  }, LONG);

  it('a member guest sending from an address not its own is dropped, while its real address gets through', async () => {
    const spoofed = `${NET}.150`; // in the subnet, outside what IPAM gave out here
    // the outsider captures ICMP on its port of the bridge: what arrives there got past the host's rules
    const capture = spawn('ip', ['netns', 'exec', outsider, 'tcpdump', '-n', '-l', '-i', 'eth0', 'icmp'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let seen = '';
    let status = '';
    capture.stdout?.on('data', (d: Buffer) => (seen += d.toString()));
    capture.stderr?.on('data', (d: Buffer) => (status += d.toString()));
    try {
      await waitUntil(() => status.includes('listening on'), 10_000);
      // $((n)) so that the echoed command line does not itself contain the markers
      await typeOnSerial(join(agentDataDirOf(rootDir, ids.host), 'vms', ids.vm, 'serial.sock'),
        `ip addr add ${spoofed}/24 dev eth0; ping -c 2 -W 2 -I ${vmIp} ${NET}.200 >/dev/null && echo SGSPOOF-REAL-$((40+2)); ping -c 2 -W 2 -I ${spoofed} ${NET}.200 >/dev/null && echo SGSPOOF-FAKE-$((40+2)); ip addr del ${spoofed}/24 dev eth0; echo SGSPOOF-END-$((6*7))`);
      await waitUntil(() => serial(ids.vm).includes('SGSPOOF-END-42'), 30_000);
    } finally {
      capture.kill('SIGKILL');
    }
    expect(seen).toContain(`${vmIp} > ${NET}.200: ICMP echo request`);
    expect(serial(ids.vm)).toContain('SGSPOOF-REAL-42');
    expect(seen).not.toContain(`${spoofed} >`);
    expect(serial(ids.vm)).not.toContain('SGSPOOF-FAKE-42');
  }, LONG);

  it('leaving the group opens the guest; a stop and start takes the chains off and back; destroying leaves no chain of ours on the host', async () => {
    const icmp = (await api('QuerySecurityGroupRule', { q: [`securityGroupUuid=${ids.sg}`, 'protocol=ICMP'] })).inventories.map((r: any) => r.uuid);
    expect(icmp).toHaveLength(1);
    await api('DeleteSecurityGroupRule', { ruleUuids: icmp });
    expect(await pings()).toBe(false);
    const nic = (await api('QueryVmNic', { q: [`vmInstanceUuid=${ids.vm}`] })).inventories[0];
    await api('DeleteVmNicFromSecurityGroup', { securityGroupUuid: ids.sg, vmNicUuids: [nic.uuid] });
    expect(await pings()).toBe(true);
    await api('AddVmNicToSecurityGroup', { securityGroupUuid: ids.sg, vmNicUuids: [nic.uuid] });
    expect(await pings()).toBe(false);
    // stopped, its chains go; started again, they are there before the guest runs
    await api('StopVmInstance', { uuid: ids.peer });
    const peerTap = (await api('QueryVmNic', { q: [`vmInstanceUuid=${ids.peer}`] })).inventories[0].internalName;
    expect(await inHost('iptables', '-S')).not.toContain(`sgi-${peerTap}`);
    expect(await inHost('ebtables-save')).not.toContain(`sga-${peerTap}`);
    await api('StartVmInstance', { uuid: ids.peer });
    expect(await inHost('iptables', '-S')).toContain(`-A sgo-${peerTap} -m mac ! --mac-source`);
    expect(await inHost('ip6tables', '-S')).toContain(`sgi-${peerTap}`);
    await api('DestroyVmInstance', { uuid: ids.vm });
    await api('DestroyVmInstance', { uuid: ids.peer });
    delete ids.vm;
    delete ids.peer;
    for (const table of [['iptables', '-S'], ['ip6tables', '-S'], ['ebtables-save']]) {
      expect((await inHost(...table)).split('\n').filter((l) => /strato-sg|sg[ioea]-/.test(l))).toEqual([]);
    }
  }, LONG);
});
