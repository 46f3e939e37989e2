import { FlatEipAgentPaths, type ApplyEipCmd, type BatchApplyEipCmd, type BatchDeleteEipCmd, type DeleteEipCmd } from '../../contracts/eip-agent.ts';
import type { CommandRegistry } from '../command-registry.ts';
import { FlatEip } from './eip.ts';

/** The flat network provider's EIP commands of a KVM host (ZStack's `deip` paths). */
export function defineEipCommands(commands: CommandRegistry, dataDir: string): FlatEip {
  const eips = new FlatEip(dataDir);
  commands.define(FlatEipAgentPaths.apply, (cmd: Partial<ApplyEipCmd>) => eips.apply(cmd.eip));
  commands.define(FlatEipAgentPaths.delete, (cmd: Partial<DeleteEipCmd>) => eips.delete(cmd.eip));
  commands.define(FlatEipAgentPaths.batchApply, async (cmd: Partial<BatchApplyEipCmd>) => ({ ...(await eips.batchApply(cmd.eips, cmd.sync === true)) }));
  commands.define(FlatEipAgentPaths.batchDelete, (cmd: Partial<BatchDeleteEipCmd>) => eips.batchDelete(cmd.eips));
  return eips;
}
