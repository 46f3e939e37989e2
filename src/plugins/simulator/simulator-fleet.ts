import type { AgentClient, AgentEndpoint } from '../../core/agent/index.ts';
import { SimulatedAgent, type CommandDef, type PathBehaviour, type SimulatedCommand } from './simulated-agent.ts';
import { SimulatorHttpServer } from './simulator-http-server.ts';

export type SimulatorTransport = 'http' | 'inProcess';

/**
 * Every simulated agent of one management node, by address (a host's uuid). Commands are declared per
 * agent kind (`host`, later `primaryStorage`…), so other plugins add theirs with `defineCommand`.
 *
 * @example
 *   const fleet = simulatorFleetOf(node.ctx);
 *   fleet.agent(hostUuid)!.configure('/host/capacity', { error: 'disk on fire', times: 1 });
 *   fleet.defineCommand('host', '/vm/start', (cmd, agent) => { agent.state.vms[cmd.vmInstanceUuid] = 'Running'; return {}; });
 */
export class SimulatorFleet {
  readonly #agents = new Map<string, SimulatedAgent>();
  readonly #commands = new Map<string, Map<string, CommandDef>>();
  readonly #unregister = new Map<string, () => void>();
  readonly #http: SimulatorHttpServer;
  readonly #shared = new Map<string, PathBehaviour>();

  constructor(private readonly client: AgentClient, onError: (err: unknown) => void) {
    this.#http = new SimulatorHttpServer((a) => this.#agents.get(a), onError);
  }

  defineCommand(kind: string, path: string, handler: SimulatedCommand, opts: { sync?: boolean } = {}): void {
    const m = this.#commands.get(kind) ?? new Map<string, CommandDef>();
    m.set(path, { handler, sync: opts.sync ?? false });
    this.#commands.set(kind, m);
  }

  /** Make `path` misbehave on every agent, those deployed later included (how a test fails an add). */
  configure(path: string, behaviour: PathBehaviour): void {
    this.#shared.set(path, { ...behaviour });
  }

  /** Clear fleet-wide behaviours and every agent's own. */
  reset(): void {
    this.#shared.clear();
    for (const a of this.#agents.values()) a.reset();
  }

  agent(address: string): SimulatedAgent | undefined {
    return this.#agents.get(address);
  }

  get size(): number {
    return this.#agents.size;
  }

  /** Start (or keep) the agent at `address`; a new token or kind replaces the old agent. */
  deploy(address: string, kind: string, token: string, state: Record<string, unknown>): SimulatedAgent {
    const existing = this.#agents.get(address);
    if (existing && existing.token === token && existing.kind === kind) return existing;
    this.remove(address);
    const commands = this.#commands.get(kind) ?? new Map<string, CommandDef>();
    const agent = new SimulatedAgent(address, token, kind, { ...state }, commands, this.#shared);
    this.#agents.set(address, agent);
    this.#unregister.set(address, this.client.inProcess.register(address, (req, deliver) => agent.receive(req.path, req.body, req.headers, deliver)));
    return agent;
  }

  async endpointOf(address: string, transport: SimulatorTransport): Promise<AgentEndpoint> {
    const agent = this.#agents.get(address);
    const token = agent?.token ?? '';
    return { url: transport === 'http' ? await this.#http.urlOf(address) : `inproc://${address}`, token };
  }

  remove(address: string): void {
    this.#unregister.get(address)?.();
    this.#unregister.delete(address);
    this.#agents.delete(address);
  }

  async close(): Promise<void> {
    for (const a of [...this.#agents.keys()]) this.remove(a);
    await this.#http.close();
  }
}
