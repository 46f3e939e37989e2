import { ConsoleBackendPoint } from '../../contracts/console.ts';
import type { ServiceModule } from '../../core/node-context.ts';
import { agentRelayBackend } from './agent-relay-backend.ts';

/** KVM VMs' consoles (ZStack's KVM ConsoleHypervisorBackend): QEMU's VNC reached through the host agent's relay. */
export const kvmConsolePlugin: ServiceModule = {
  id: 'kvm-console',
  setup(ctx) {
    ctx.extensions.registerStrategy(ConsoleBackendPoint, 'KVM', agentRelayBackend(ctx.extensions), { by: 'kvm-console' });
  },
};
