/** The cloud bench:scale runs on, built through the API: one zone, clusters of 100 simulated hosts, a /12 network. */
import { buildEnvironment } from '../../src/cli/environment.ts';
import { Hooks, pool, type Client } from './client.ts';

const GiB = 2 ** 30;

export interface BenchEnv {
  session: string;
  offeringUuid: string;
  imageUuid: string;
  l3Uuid: string;
  clusterUuids: string[];
}

export const vmParams = (env: BenchEnv, name: string) => ({ params: { name, instanceOfferingUuid: env.offeringUuid, imageUuid: env.imageUuid, l3NetworkUuids: [env.l3Uuid] } });

/** The base (without hosts), then `hosts` AddSimulatorHost calls from 50 clients; seconds taken for the hosts. */
export async function buildBenchEnv(client: Client, hooks: Hooks, hosts: number): Promise<{ env: BenchEnv; hostSeconds: number }> {
  const clusters = Math.ceil(hosts / 100);
  const built = await buildEnvironment(client.base, {
    instanceOfferings: [{ name: 'bench-1c1g', cpuNum: 1, memorySize: 1 * GiB }],
    backupStorage: [{ name: 'bench-bs', totalCapacity: 100_000 * GiB, images: [{ name: 'bench-image', url: 'http://images.example/bench.qcow2?size=1073741824' }] }],
    zones: [{
      name: 'bench-zone',
      backupStorage: ['bench-bs'],
      primaryStorage: [{ name: 'bench-ps', type: 'Simulator', totalCapacity: 100_000_000 * GiB }],
      l2Networks: [{ name: 'bench-l2', l3Networks: [{ name: 'bench-l3', cidr: '10.0.0.0/12', services: ['DHCP'] }] }],
      clusters: Array.from({ length: clusters }, (_, c) => ({ name: `bench-cluster-${c}`, primaryStorage: ['bench-ps'], l2Networks: ['bench-l2'] })),
    }],
  });
  const env: BenchEnv = {
    session: built.session,
    offeringUuid: built.uuid('bench-1c1g'),
    imageUuid: built.uuid('bench-image'),
    l3Uuid: built.uuid('bench-l3'),
    clusterUuids: Array.from({ length: clusters }, (_, c) => built.uuid(`bench-cluster-${c}`)),
  };
  const t0 = performance.now();
  const results = await pool(hosts, 50, (i) => {
    const c = Math.floor(i / 100);
    const h = i % 100;
    return hooks.run(client, 'POST', '/hosts/simulators', {
      params: { name: `bench-host-${c}-${h}`, clusterUuid: env.clusterUuids[c], managementIp: `172.${16 + (c >> 8)}.${c & 255}.${h + 1}`, cpuCapacity: 64, memoryCapacity: 256 * GiB },
    });
  });
  const failed = results.filter((r) => !r.ok);
  if (failed.length) throw new Error(`${failed.length} host adds failed, first: ${failed[0].body.slice(0, 300)}`);
  return { env, hostSeconds: (performance.now() - t0) / 1000 };
}
