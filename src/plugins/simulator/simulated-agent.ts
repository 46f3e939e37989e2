import { AGENT_TOKEN_HEADER, CALLBACK_ERROR_HEADER, TASK_UUID_HEADER, type AgentHttpReply, type DeliverCallback } from '../../core/agent/index.ts';

/** What a simulated command does: returns the response fields (success is added), or throws to fail. */
export type SimulatedCommand = (cmd: any, agent: SimulatedAgent) => Record<string, unknown> | Promise<Record<string, unknown>>;

export interface CommandDef {
  handler: SimulatedCommand;
  /** Answered in the HTTP reply (`/host/connect`, `/host/echo`) instead of on the callback. */
  sync: boolean;
}

/**
 * How one command path misbehaves, so a test can make any step fail. Several may be combined.
 * `times` limits how many calls it affects (then it clears itself); without it, it lasts until cleared.
 */
export interface PathBehaviour {
  /** Wait this long before answering (the callback, or the reply of a sync command). */
  delayMs?: number;
  /** Answer `{success: false, error}`. */
  error?: string;
  /** Refuse the POST itself with this HTTP status. */
  httpStatus?: number;
  /** Call back with the `error` header, as an agent whose handler raised does. */
  raise?: string;
  /** Never answer (the node's timeout must fire). */
  hang?: boolean;
  /** Post the callback before acknowledging the command (the node must already be waiting for it). */
  callbackBeforeAck?: boolean;
  times?: number;
}

export interface ReceivedCommand {
  path: string;
  body: unknown;
  at: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One simulated agent (a host's, later a storage's): checks the node's token, then answers its
 * commands as a real agent would, sync ones in the reply, async ones on the callback URL.
 * `state` is what the commands read and change (capacity, and later VMs and volumes).
 */
export class SimulatedAgent {
  readonly received: ReceivedCommand[] = [];
  readonly #behaviours = new Map<string, PathBehaviour>();

  constructor(
    readonly address: string,
    readonly token: string,
    readonly kind: string,
    readonly state: Record<string, any>,
    private readonly commands: ReadonlyMap<string, CommandDef>,
    /** Behaviours shared by every agent of the fleet (set before an agent even exists); the agent's own win. */
    private readonly shared: Map<string, PathBehaviour> = new Map(),
  ) {}

  /** Make `path` (or every path with `'*'`) misbehave; replaces what was set for it. */
  configure(path: string, behaviour: PathBehaviour): void {
    this.#behaviours.set(path, { ...behaviour });
  }

  /** Back to normal on every path. */
  reset(): void {
    this.#behaviours.clear();
  }

  /** How many times `path` was received (refused ones included). */
  count(path: string): number {
    return this.received.filter((r) => r.path === path).length;
  }

  #take(path: string): PathBehaviour {
    for (const map of [this.#behaviours, this.shared]) {
      const key = map.has(path) ? path : map.has('*') ? '*' : undefined;
      if (key === undefined) continue;
      const b = map.get(key)!;
      if (b.times !== undefined) {
        b.times -= 1;
        if (b.times <= 0) map.delete(key);
      }
      return b;
    }
    return {};
  }

  /** Handle one POST; `deliver` posts a callback (over HTTP or in process). */
  async receive(path: string, body: unknown, headers: Record<string, string>, deliver: DeliverCallback): Promise<AgentHttpReply> {
    if (headers[AGENT_TOKEN_HEADER] !== this.token) return { status: 401, body: `agent ${this.address}: the node's token was refused` };
    const def = this.commands.get(path);
    if (!def) return { status: 404, body: `agent ${this.address} has no command ${path}` };
    this.received.push({ path, body, at: Date.now() });
    const b = this.#take(path);
    if (b.httpStatus) return { status: b.httpStatus, body: `agent ${this.address} refused ${path} (simulated)` };
    if (def.sync) {
      if (b.hang) return new Promise(() => undefined);
      if (b.delayMs) await sleep(b.delayMs);
      return { status: 200, body: await this.#run(def, path, body, b) };
    }
    const taskUuid = headers[TASK_UUID_HEADER];
    if (!taskUuid) return { status: 400, body: 'missing taskuuid header' };
    if (b.hang) return { status: 200, body: {} };
    const answer = async () => {
      if (b.delayMs) await sleep(b.delayMs);
      if (b.raise) return deliver({ [TASK_UUID_HEADER]: taskUuid, [CALLBACK_ERROR_HEADER]: b.raise, callbackurl: headers.callbackurl }, {});
      deliver({ [TASK_UUID_HEADER]: taskUuid, callbackurl: headers.callbackurl }, await this.#run(def, path, body, b));
    };
    if (b.callbackBeforeAck) await answer();
    else setImmediate(() => void answer());
    return { status: 200, body: {} };
  }

  async #run(def: CommandDef, path: string, body: unknown, b: PathBehaviour): Promise<Record<string, unknown>> {
    if (b.error) return { success: false, error: b.error };
    try {
      return { ...(await def.handler(body ?? {}, this)), success: true };
    } catch (e) {
      return { success: false, error: `${path}: ${e instanceof Error ? e.message : String(e)}` };
    }
  }
}
