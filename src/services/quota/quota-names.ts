const GiB = 1024 ** 3;
const TiB = 1024 ** 4;

/** ZStack's quota names and this platform's defaults (global configuration, category `quota`). */
export const QUOTA_DEFAULTS: Record<string, { value: number; description: string }> = {
  'vm.totalNum': { value: 20, description: 'VMs (any state but expunged)' },
  'vm.num': { value: 20, description: 'running VMs' },
  'vm.cpuNum': { value: 80, description: 'vCPUs of running VMs' },
  'vm.memorySize': { value: 80 * GiB, description: 'bytes of memory of running VMs' },
  'volume.data.num': { value: 40, description: 'data volumes' },
  'volume.capacity': { value: 10 * TiB, description: 'bytes of data volumes' },
  'snapshot.volume.num': { value: 200, description: 'volume snapshots' },
  'image.num': { value: 20, description: 'images' },
  'image.size': { value: 10 * TiB, description: 'bytes of images (a new image is refused once the total reaches it)' },
  'l3.num': { value: 20, description: 'L3 networks' },
  'securityGroup.num': { value: 20, description: 'security groups' },
  'eip.num': { value: 20, description: 'EIPs' },
  'vip.num': { value: 20, description: 'VIPs' },
};

export const QUOTA_NAMES = Object.keys(QUOTA_DEFAULTS);
export const RUNNING_VM_QUOTAS = ['vm.num', 'vm.cpuNum', 'vm.memorySize'];
