import type { Duplex } from 'node:stream';
import { strategyPoint } from '../core/plugin/index.ts';
import type { HostSpec } from './host.ts';

/** The VM whose console is wanted, and the host it runs on (enough for a backend to reach it). */
export interface ConsoleTarget {
  vmInstanceUuid: string;
  host: HostSpec;
}

/**
 * How the management node reaches a VM's console on one hypervisor type (ZStack's
 * ConsoleHypervisorBackend), chosen by the host's `hypervisorType`. `open` resolves with a byte stream
 * to the VM's VNC server (RFB flows both ways, untouched) or rejects when it cannot be reached.
 * A hypervisor without a backend has no console: RequestConsoleAccess says so.
 */
export interface ConsoleBackend {
  open(target: ConsoleTarget, opts: { timeoutMs: number }): Promise<Duplex>;
}

export const ConsoleBackendPoint = strategyPoint<ConsoleBackend>('console.backend');

/**
 * The agent's console relay: `GET /console/<vmInstanceUuid>` with `Connection: Upgrade`,
 * `Upgrade: strato-console` and the agent token header. After `101 Switching Protocols` the
 * connection carries the VM's VNC bytes both ways (no websocket framing: the node does that).
 */
export const CONSOLE_RELAY_PATH_PREFIX = '/console/';
export const CONSOLE_RELAY_PROTOCOL = 'strato-console';
