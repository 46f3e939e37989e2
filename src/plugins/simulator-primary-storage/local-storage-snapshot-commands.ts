import { LocalStorageAgentPaths } from '../local-storage/index.ts';
import type { SimulatedAgent, SimulatorFleet } from '../simulator/index.ts';

/** A snapshot file on a simulated host: the volume it was taken of and the file it is based on. */
interface SimulatedSnapshotFile {
  volumeInstallPath: string;
  backingPath: string | null;
}

/** The snapshot files a simulated host holds, by install path (in the agent's state, so each host has its own). */
function filesOf(agent: SimulatedAgent): Map<string, SimulatedSnapshotFile> {
  agent.state.localStorageSnapshots ??= new Map<string, SimulatedSnapshotFile>();
  return agent.state.localStorageSnapshots as Map<string, SimulatedSnapshotFile>;
}

/** `/localstorage/delete` of a snapshot file (deleting what is not there succeeds). */
export function forgetSnapshotFile(agent: SimulatedAgent, path: string): void {
  filesOf(agent).delete(path);
}

/**
 * A simulated host's answers to local storage's snapshot commands: snapshot files exist as entries of
 * the agent's state with the file they are based on, so a merge or revert of a file the host does not
 * have fails as a real agent's would. Deletion is `/localstorage/delete` (shared with volumes).
 */
export function defineLocalStorageSnapshotCommands(fleet: SimulatorFleet): void {
  const need = (agent: SimulatedAgent, path: string) => {
    const f = filesOf(agent).get(path);
    if (!f) throw new Error(`no snapshot file ${path} on host ${agent.address}`);
    return f;
  };
  fleet.defineCommand('host', LocalStorageAgentPaths.takeSnapshot, (cmd: { installPath: string; volumeInstallPath: string; parentInstallPath?: string | null }, agent) => {
    filesOf(agent).set(cmd.installPath, { volumeInstallPath: cmd.volumeInstallPath, backingPath: cmd.parentInstallPath ?? null });
    return { actualSize: 0 };
  });
  fleet.defineCommand('host', LocalStorageAgentPaths.revertSnapshot, (cmd: { snapshotInstallPath: string }, agent) => {
    need(agent, cmd.snapshotInstallPath);
    return {};
  });
  fleet.defineCommand('host', LocalStorageAgentPaths.mergeSnapshot, (cmd: { srcPath: string }, agent) => {
    need(agent, cmd.srcPath);
    return {};
  });
  fleet.defineCommand('host', LocalStorageAgentPaths.offlineMergeSnapshot, (cmd: { srcPath: string; destPath: string }, agent) => {
    const src = need(agent, cmd.srcPath);
    need(agent, cmd.destPath).backingPath = src.backingPath;
    return { actualSize: 0 };
  });
  fleet.defineCommand('host', LocalStorageAgentPaths.rebaseSnapshot, (cmd: { backingPath: string; destPath: string }, agent) => {
    const dest = filesOf(agent).get(cmd.destPath);
    if (dest) dest.backingPath = cmd.backingPath;
    return {};
  });
}

/** Install paths of the snapshot files a simulated host holds (what tests check the chain against). */
export function simulatedSnapshotFiles(agent: SimulatedAgent): Record<string, string | null> {
  return Object.fromEntries([...filesOf(agent)].map(([path, f]) => [path, f.backingPath]));
}
