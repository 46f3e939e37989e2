/**
 * Child process of the crash test: runs the journaled crash chain and, while step `hangAt` is running
 * (its row and file already made), prints `HANG` and waits to be SIGKILLed.
 * Usage: node --import tsx/esm crash-child.ts <dbUrl> <dir> <nodeUuid> <runId> <hangAt>
 */
import { openDatabase } from '../../db/index.ts';
import { FlowEngine } from '../engine.ts';
import { FlowRegistry } from '../registry.ts';
import { crashChain } from './crash-chain.ts';

const [dbUrl, dir, nodeUuid, runId, hangAt] = process.argv.slice(2);
const database = await openDatabase(dbUrl);
const registry = new FlowRegistry();
const chain = crashChain({
  db: database.db,
  dir,
  during: async (n) => {
    if (n !== Number(hangAt)) return;
    process.stdout.write('HANG\n');
    await new Promise<never>(() => setInterval(() => {}, 1_000));
  },
});
registry.registerChain(chain);
const engine = new FlowEngine({ registry, db: database, nodeUuid });
await engine.run(chain, { runId, made: [] }, { resourceUuid: runId });
process.stdout.write('DONE\n');
await database.close();
