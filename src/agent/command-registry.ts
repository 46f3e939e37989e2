/**
 * The commands an agent answers, by path. A handler returns the response's fields (`success: true` is
 * added) or throws to fail; a synchronous command is answered in the HTTP reply, an asynchronous one
 * is acknowledged at once and its result POSTed to the node's `callbackurl` (agent-protocol.ts).
 */
export type CommandHandler<C = any> = (cmd: C, ctx: CommandContext) => Promise<Record<string, unknown>> | Record<string, unknown>;

/** Who asked: the task and where its node listens (for progress reports on long commands). */
export interface CommandContext {
  taskUuid?: string;
  callbackUrl?: string;
  /** Signs a report to the node (`body`: the exact text to POST); see core/agent/report-signature.ts. */
  signReport?: (commandPath: string, body: string) => Record<string, string>;
}

export interface CommandDefinition {
  handler: CommandHandler;
  sync: boolean;
}

export class CommandRegistry {
  readonly #commands = new Map<string, CommandDefinition>();

  define<C>(path: string, handler: CommandHandler<C>, opts: { sync?: boolean } = {}): void {
    if (this.#commands.has(path)) throw new Error(`agent command ${path} defined twice`);
    this.#commands.set(path, { handler, sync: opts.sync ?? false });
  }

  get(path: string): CommandDefinition | undefined {
    return this.#commands.get(path);
  }

  get paths(): string[] {
    return [...this.#commands.keys()].sort();
  }
}
