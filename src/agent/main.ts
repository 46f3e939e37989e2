import { startAgent, type AgentOptions } from './agent.ts';

/** The `strato agent` process: start, and stop cleanly on SIGTERM/SIGINT (VMs keep running). */
export async function runAgentProcess(opts: AgentOptions): Promise<void> {
  const agent = await startAgent(opts);
  const stop = () => {
    void agent.close().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
