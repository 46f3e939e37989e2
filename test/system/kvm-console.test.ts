import { request } from 'node:http';
import { connect } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { apiCatalog } from '../../src/api/catalog.ts';
import { callApi } from '../../src/cli/client.ts';
import { AGENT_TOKEN_HEADER, type AgentResponse } from '../../src/core/agent/index.ts';
import { canRunAgentTests } from '../agent/harness.ts';
import { inHeadlessChromium } from '../support/headless-chromium.ts';
import { tinyGuest } from '../agent/tiny-guest.ts';
import { createPretendHost, type PretendHost } from '../support/pretend-host.ts';
import { startTestNode, type TestClient, type TestNode } from '../support/test-node.ts';

/**
 * The console of a real VM, end to end: a KVM host deployed by Ansible on a pretend host, a QEMU
 * (TCG) guest whose VNC listens on the host's loopback only, RequestConsoleAccess through the API,
 * and an RFB handshake through the node's websocket and the agent's relay. A token opens once.
 * SQLite only; one VM (QEMU's VNC answers at once, the guest need not finish booting).
 */
const LONG = 240_000;
const runnable = canRunAgentTests('qemu-system-x86_64', 'sshd', 'ansible-playbook', 'chromium');

/** Collects a websocket's binary messages; resolves when open or with the HTTP answer that refused it. */
function openWs(url: string): Promise<{ ws: WebSocket; received: () => Buffer } | { status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const chunks: Buffer[] = [];
    ws.on('message', (m: Buffer) => chunks.push(Buffer.from(m)));
    ws.once('open', () => resolve({ ws, received: () => Buffer.concat(chunks) }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += String(c)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once('error', reject);
  });
}

/** An upgrade request straight to the agent's relay: the status it answers. */
function relayStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { Connection: 'Upgrade', Upgrade: 'strato-console', ...headers } });
    req.once('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.once('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('error', reject);
    req.end();
  });
}

describe.skipIf(!runnable)('the console of a VM on a KVM host, through the node and the agent relay', () => {
  let h: PretendHost;
  let t: TestNode;
  let c: TestClient;
  let rootDir: string;
  const ids: Record<string, string> = {};

  const api = async (name: string, params: Record<string, unknown>): Promise<any> => {
    const def = apiCatalog.find((a) => a.name === name);
    if (!def) throw new Error(`no API ${name}`);
    return callApi(def, params, { baseUrl: c.url, session: c.session, pollIntervalMs: 100, timeoutMs: LONG });
  };

  beforeAll(async () => {
    const image = join(tinyGuest(), 'tiny-guest.qcow2');
    h = await createPretendHost();
    rootDir = await mkdtemp(join(tmpdir(), 'strato-test-kvm-console-'));
    t = await startTestNode('sqlite', { node: { host: h.gatewayIp, advertiseHost: h.gatewayIp } });
    c = await t.login();
    for (const category of ['kvm', 'imageStore']) await c.call('PUT', `/global-configurations/${category}/agent.rootDir/actions`, { updateGlobalConfig: { value: rootDir } });
    ids.zone = (await api('CreateZone', { name: 'console-zone' })).inventory.uuid;
    ids.cluster = (await api('CreateCluster', { name: 'console-cluster', zoneUuid: ids.zone, hypervisorType: 'KVM' })).inventory.uuid;
    ids.ps = (await api('AddLocalPrimaryStorage', { name: 'console-ps', zoneUuid: ids.zone, url: join(rootDir, 'local-ps') })).inventory.uuid;
    await api('AttachPrimaryStorageToCluster', { clusterUuid: ids.cluster, primaryStorageUuid: ids.ps });
    ids.l2 = (await api('CreateL2NoVlanNetwork', { name: 'console-l2', zoneUuid: ids.zone, physicalInterface: 'eth0' })).inventory.uuid;
    await api('AttachL2NetworkToCluster', { clusterUuid: ids.cluster, l2NetworkUuid: ids.l2 });
    ids.l3 = (await api('CreateL3Network', { name: 'console-l3', l2NetworkUuid: ids.l2, category: 'Private' })).inventory.uuid;
    await api('AddIpRange', { l3NetworkUuid: ids.l3, name: 'console-range', startIp: '192.168.252.10', endIp: '192.168.252.100', netmask: '255.255.255.0', gateway: '192.168.252.1' });
    ids.offering = (await api('CreateInstanceOffering', { name: 'console-io', cpuNum: 1, memorySize: 256 * 1024 ** 2 })).inventory.uuid;
    const [host, bs] = await Promise.all([
      api('AddKVMHost', { name: 'console-host', clusterUuid: ids.cluster, managementIp: h.ip, username: 'root', sshPrivateKey: h.privateKey }),
      api('AddImageStoreBackupStorage', { name: 'console-bs', url: join(rootDir, 'image-store'), hostname: h.ip, username: 'root', sshPrivateKey: h.privateKey }),
    ]);
    ids.host = host.inventory.uuid;
    ids.bs = bs.inventory.uuid;
    await api('AttachBackupStorageToZone', { zoneUuid: ids.zone, backupStorageUuid: ids.bs });
    ids.image = (await api('AddImage', { name: 'tiny-guest', url: pathToFileURL(image).href, format: 'qcow2', mediaType: 'RootVolumeTemplate', platform: 'Linux', backupStorageUuids: [ids.bs] })).inventory.uuid;
    ids.vm = (await api('CreateVmInstance', { name: 'console-vm', instanceOfferingUuid: ids.offering, imageUuid: ids.image, l3NetworkUuids: [ids.l3] })).inventory.uuid;
  }, LONG);

  afterAll(async () => {
    if (ids.vm) {
      await api('DestroyVmInstance', { uuid: ids.vm }).catch(() => undefined);
      await api('ExpungeVmInstance', { uuid: ids.vm }).catch(() => undefined);
    }
    if (ids.host) await api('DeleteHost', { uuid: ids.host }).catch(() => undefined);
    if (ids.bs) await api('DeleteBackupStorage', { uuid: ids.bs }).catch(() => undefined);
    await t?.stop();
    await h?.destroy();
    if (rootDir) await rm(rootDir, { recursive: true, force: true });
  }, LONG);

  it('does an RFB handshake with the VM through the node websocket; the same URL is refused the second time', async () => {
    const inv = (await api('RequestConsoleAccess', { vmInstanceUuid: ids.vm })).inventory;
    expect(inv).toMatchObject({ scheme: 'http', targetScheme: 'vnc', hostname: h.gatewayIp });
    const wsUrl = `ws://${inv.hostname}:${inv.port}/console/ws?token=${inv.token}`;
    const first = await openWs(wsUrl);
    if (!('ws' in first)) throw new Error(`refused: ${first.status} ${first.body}`);
    await waitUntil(() => first.received().length >= 12, 20_000);
    const version = first.received().subarray(0, 12).toString('latin1');
    expect(version).toMatch(/^RFB 003\.00[378]\n$/);
    first.ws.send(Buffer.from('RFB 003.008\n'));
    // RFB 3.8: the number of security types, then the types; QEMU without a password offers None (1).
    await waitUntil(() => first.received().length >= 14, 20_000);
    const types = first.received().subarray(12);
    expect(types[0]).toBeGreaterThan(0);
    expect([...types.subarray(1, 1 + types[0])]).toContain(1);
    first.ws.close();

    const again = await openWs(wsUrl);
    expect(again).toMatchObject({ status: 403 });
    // The page that would open it in a browser is served by the same node.
    expect((await fetch(inv.url)).status).toBe(200);
  }, LONG);

  it("shows the VM's screen in a browser: the noVNC page connects and QEMU names its desktop after the VM", async () => {
    const inv = (await api('RequestConsoleAccess', { vmInstanceUuid: ids.vm })).inventory;
    const r = await inHeadlessChromium(inv.url, { until: "document.getElementById('status').textContent === 'Connected' && document.querySelector('canvas').width > 0 && document.title.startsWith('QEMU') && document.title", timeoutMs: 90_000 });
    expect(r.value).toBe('QEMU (console-vm) - Strato console');
    // The page used its one connection: the same URL opens nothing again.
    const again = await inHeadlessChromium(inv.url, { until: "document.getElementById('status').textContent.includes('request a new one')", timeoutMs: 90_000 });
    expect(again.value).toBe(true);
  }, LONG);

  it("keeps QEMU's VNC off the network: only the token-checked relay reaches it", async () => {
    const row = await t.node.ctx.db.selectFrom('host').select('agentToken').where('uuid', '=', ids.host).executeTakeFirstOrThrow();
    const endpoint = { url: `http://${h.ip}:7070`, token: String(row.agentToken) };
    const sync = await t.node.ctx.agents.call<AgentResponse & { vncPorts: Record<string, number> }>(endpoint, '/vm/vmsync', {});
    const port = sync.vncPorts[ids.vm];
    expect(port).toBeGreaterThanOrEqual(5900);
    const reached = await new Promise<boolean>((resolve) => {
      const s = connect(port, h.ip, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    expect(reached).toBe(false);
    const relay = `${endpoint.url}/console/${ids.vm}`;
    expect(await relayStatus(relay, {})).toBe(401);
    expect(await relayStatus(relay, { [AGENT_TOKEN_HEADER]: 'wrong' })).toBe(401);
    expect(await relayStatus(`${endpoint.url}/console/${'0'.repeat(32)}`, { [AGENT_TOKEN_HEADER]: endpoint.token })).toBe(404);
    expect(await relayStatus(relay, { [AGENT_TOKEN_HEADER]: endpoint.token })).toBe(101);
  }, LONG);
});

async function waitUntil(fn: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const started = Date.now();
  while (!(await fn())) {
    if (Date.now() - started > timeoutMs) throw new Error(`condition not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
