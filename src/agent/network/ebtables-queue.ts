import { KeyedQueue } from '../keyed-queue.ts';

/**
 * One ebtables edit at a time in this agent: ebtables-nft rewrites the bridge ruleset per command, so
 * two features editing it at once (EIPs, DHCP isolation, security groups) could lose one's edit.
 * Run every ebtables change through `ebtablesQueue.run(EBTABLES, …)`: flat DHCP's isolation chains,
 * EIPs' gateway chains and security groups' `ebtables-restore`. Security groups read `ebtables-save`
 * outside it: they look only at their own `sga-*` chains and jumps, which only their own (serial)
 * queue changes, so another feature's edit in between cannot make their plan stale.
 */
export const ebtablesQueue = new KeyedQueue();
export const EBTABLES = 'ebtables';
