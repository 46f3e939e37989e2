import type { EnvSpec } from './environment.ts';

/** What `strato serve --demo` builds: a small simulated cloud a new user can explore at once. */
export function demoEnvironment(withVms: boolean): EnvSpec {
  const GiB = 2 ** 30;
  return {
    instanceOfferings: [
      { name: 'demo-small', cpuNum: 1, memorySize: 1 * GiB },
      { name: 'demo-medium', cpuNum: 2, memorySize: 4 * GiB },
    ],
    diskOfferings: [{ name: 'demo-disk-20G', diskSize: 20 * GiB }],
    backupStorage: [{ name: 'demo-image-store', totalCapacity: 2000 * GiB, images: [{ name: 'demo-linux', url: 'http://images.example/demo-linux.qcow2?size=1073741824' }] }],
    zones: [
      {
        name: 'demo-zone',
        backupStorage: ['demo-image-store'],
        primaryStorage: [{ name: 'demo-primary', type: 'Simulator', totalCapacity: 10_000 * GiB }],
        l2Networks: [
          { name: 'demo-l2', physicalInterface: 'eth0', l3Networks: [{ name: 'demo-private', cidr: '10.10.0.0/24', dns: ['10.10.0.1'], services: ['DHCP', 'DNS', 'SecurityGroup'] }] },
          { name: 'demo-l2-public', physicalInterface: 'eth1', l3Networks: [{ name: 'demo-public', cidr: '192.168.100.0/24', category: 'Public', services: ['Eip'] }] },
        ],
        clusters: [
          {
            name: 'demo-cluster',
            primaryStorage: ['demo-primary'],
            l2Networks: ['demo-l2', 'demo-l2-public'],
            hosts: [1, 2, 3].map((i) => ({ name: `demo-host-${i}`, managementIp: `172.20.0.${i}`, cpuCapacity: 32, memoryCapacity: 128 * GiB })),
          },
        ],
      },
    ],
    vms: withVms ? [1, 2, 3].map((i) => ({ name: `demo-vm-${i}`, instanceOffering: i === 3 ? 'demo-medium' : 'demo-small', image: 'demo-linux', l3Networks: ['demo-private'] })) : [],
  };
}
