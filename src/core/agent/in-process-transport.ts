import { AgentErrors, type AgentHttpReply, type AgentRequest, type AgentTransport, type DeliverCallback } from './agent-protocol.ts';
import { StratoError } from '../errors/index.ts';

/** An agent living in this process: same headers, bodies and status codes as over HTTP, no sockets. */
export type InProcessAgent = (req: { path: string; body: unknown; headers: Record<string, string> }, deliver: DeliverCallback) => Promise<AgentHttpReply>;

/**
 * Transport for `inproc://<address>/<path>` endpoints, used by the simulator at scale. Bodies are
 * cloned through JSON so an agent never shares objects with the node, as over the wire.
 */
export class InProcessAgentTransport implements AgentTransport {
  readonly #agents = new Map<string, InProcessAgent>();

  register(address: string, agent: InProcessAgent): () => void {
    this.#agents.set(address, agent);
    return () => {
      if (this.#agents.get(address) === agent) this.#agents.delete(address);
    };
  }

  async post(req: AgentRequest, deliver: DeliverCallback): Promise<AgentHttpReply> {
    const m = /^inproc:\/\/([^/]+)(\/.*)$/.exec(req.url);
    const agent = m && this.#agents.get(m[1]);
    if (!m || !agent) throw new StratoError(AgentErrors.UNREACHABLE, `no in-process agent at ${req.url}`);
    if (req.signal.aborted) throw new StratoError(AgentErrors.UNREACHABLE, `call to ${req.url} aborted`);
    const reply = await agent({ path: m[2], body: JSON.parse(JSON.stringify(req.body ?? {})), headers: { ...req.headers } }, (headers, body) => deliver(headers, JSON.parse(JSON.stringify(body ?? {}))));
    return { status: reply.status, body: JSON.parse(JSON.stringify(reply.body ?? {})) };
  }
}
