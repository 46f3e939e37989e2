import { request } from 'node:http';
import type { Duplex } from 'node:stream';
import { CONSOLE_RELAY_PATH_PREFIX, CONSOLE_RELAY_PROTOCOL, type ConsoleBackend } from '../../contracts/console.ts';
import { HypervisorFactoryPoint } from '../../contracts/host.ts';
import { AGENT_TOKEN_HEADER } from '../../core/agent/index.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { ExtensionRegistry } from '../../core/plugin/index.ts';

/**
 * A KVM VM's console through its host agent's relay (src/agent/console/): an HTTP Upgrade to
 * `/console/<vmUuid>` with the host's agent token; after `101` the socket carries VNC bytes.
 * The agent's address and token come from the host's hypervisor factory, as for every command.
 */
export function agentRelayBackend(extensions: ExtensionRegistry): ConsoleBackend {
  return {
    async open(target, opts) {
      const endpoint = await extensions.strategy(HypervisorFactoryPoint, target.host.hypervisorType).endpointOf(target.host);
      const url = new URL(`${CONSOLE_RELAY_PATH_PREFIX}${target.vmInstanceUuid}`, endpoint.url);
      return new Promise<Duplex>((resolve, reject) => {
        const req = request(url, {
          method: 'GET',
          headers: { Connection: 'Upgrade', Upgrade: CONSOLE_RELAY_PROTOCOL, [AGENT_TOKEN_HEADER]: endpoint.token },
          timeout: opts.timeoutMs,
        });
        const failed = (why: string) => reject(new StratoError(SysErrors.OPERATION_ERROR, `cannot open the console of VM ${target.vmInstanceUuid} on host ${target.host.uuid}: ${why}`));
        req.once('upgrade', (_res, socket, head) => {
          req.setTimeout(0);
          // VNC bytes that came along with the 101 (QEMU speaks first) go back in front of the stream.
          if (head.length) socket.unshift(head);
          resolve(socket);
        });
        req.once('response', (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c.slice(0, 1024)));
          res.on('end', () => failed(`the agent answered ${res.statusCode}: ${text.trim()}`));
          res.on('error', () => failed(`the agent answered ${res.statusCode}`));
        });
        req.once('timeout', () => {
          req.destroy();
          failed(`the agent did not answer within ${opts.timeoutMs} ms`);
        });
        req.once('error', (e) => failed(e.message));
        req.end();
      });
    },
  };
}
