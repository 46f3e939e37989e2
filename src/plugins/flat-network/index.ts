import { NetworkServiceProviderTypePoint } from '../../contracts/network.ts';
import { VmNetworkFollowerPoint } from '../../contracts/vm.ts';
import type { ServiceModule } from '../../core/node-context.ts';
import { hostAgent, VXLAN_FOLLOWER_ORDER } from '../vxlan/index.ts';
import { dhcpServerIps } from './dhcp-server-ip.ts';
import { flatDhcpFollower } from './flat-dhcp-follower.ts';

export { DHCP_USED_FOR } from './dhcp-server-ip.ts';

/** What the Flat provider offers (ZStack's flat network provider): DHCP and DNS here; EIP, userdata… by their plugins. */
const FLAT_SERVICE_TYPES = ['DHCP', 'DNS', 'Userdata', 'Eip', 'HostRoute', 'VipQos'];

/** After the L2 follower (the bridge must exist), before firewalls and EIPs. */
export const FLAT_DHCP_FOLLOWER_ORDER = VXLAN_FOLLOWER_ORDER + 10;

/** The Flat network provider's DHCP on hosts (needs the vxlan plugin's L2 realization before it). */
export const flatNetworkPlugin: ServiceModule = {
  id: 'flat-network',
  setup(ctx) {
    const serverIps = dhcpServerIps({ db: ctx.db, bus: ctx.bus, queues: ctx.queues });
    const follower = flatDhcpFollower({ db: ctx.db, agent: hostAgent(ctx), serverIps, queues: ctx.queues });
    ctx.extensions.registerObserver(VmNetworkFollowerPoint, follower, { order: FLAT_DHCP_FOLLOWER_ORDER, by: 'flat-network' });
    // The Flat provider's backend (the network service would register a control-plane-only one otherwise).
    ctx.extensions.registerStrategy(NetworkServiceProviderTypePoint, 'Flat', {
      serviceTypes: FLAT_SERVICE_TYPES,
      async detachFromL3(l3NetworkUuid, serviceTypes) {
        if (serviceTypes.includes('DHCP')) await follower.dhcpDetached(l3NetworkUuid);
      },
    }, { by: 'flat-network' });
  },
};
