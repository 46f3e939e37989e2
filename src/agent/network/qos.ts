import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { bandwidthProblem } from '../../contracts/nic-qos.ts';
import { exec } from '../exec.ts';
import { KeyedQueue } from '../keyed-queue.ts';

/**
 * NIC bandwidth limits with tc on the NIC's tap (what this kernel has: tbf, ingress, u32, mirred and
 * ifb; no `police` action, reference/infra-probe.md §3 QoS):
 * - into the VM (`inbound`) is the tap's egress: a tbf root qdisc on the tap;
 * - out of the VM (`outbound`) is the tap's ingress: every frame is redirected to an ifb device of
 *   the tap's own, whose egress a tbf shapes (shaping, not dropping at once as `police` would).
 */
export interface TapQos {
  /** Bits per second into the VM; null: unlimited. */
  inbound: number | null;
  /** Bits per second out of the VM; null: unlimited. */
  outbound: number | null;
}

/** A change: a number limits that direction, null removes its limit, undefined leaves it. */
export type TapQosChange = { inbound?: number | null; outbound?: number | null };

/** tc edits of one tap never interleave (a set racing a VM start's would leave half of each). */
const tapQueue = new KeyedQueue();
const linkExists = (name: string) => existsSync(`/sys/class/net/${name}`);

/** The tap's ifb device: a name of ≤ 15 characters derived from the tap's, unique per tap on a host. */
export const ifbOf = (tap: string) => `ifb${createHash('sha1').update(tap).digest('hex').slice(0, 11)}`;

/** Throws a clear error for a value that is neither a bandwidth nor null/undefined. */
export function checkQosChange(change: TapQosChange, names = { inbound: 'inboundBandwidth', outbound: 'outboundBandwidth' }): void {
  for (const dir of ['inbound', 'outbound'] as const) {
    const v = change[dir];
    if (v === undefined || v === null) continue;
    const problem = bandwidthProblem(names[dir], v);
    if (problem) throw new Error(problem);
  }
}

/** Applies a change to the tap's limits (idempotent: the same limit again changes nothing visible). */
export async function setTapQos(tap: string, change: TapQosChange): Promise<TapQos> {
  checkQosChange(change);
  return tapQueue.run(tap, async () => {
    if (!linkExists(tap)) throw new Error(`no interface ${tap} on this host: the NIC's tap must exist (is its VM running here?)`);
    if (change.inbound === null) await tcIgnoringAbsent(['qdisc', 'del', 'dev', tap, 'root']);
    else if (change.inbound !== undefined) await exec('tc', ['qdisc', 'replace', 'dev', tap, 'root', 'handle', '1:', ...tbf(change.inbound)]);
    if (change.outbound === null) await removeOutbound(tap);
    else if (change.outbound !== undefined) await limitOutbound(tap, change.outbound);
    return readTapQosNow(tap);
  });
}

/** The limits the tap has now, as tc reports them (tc keeps bytes per second: a value is a multiple of 8). */
export async function readTapQos(tap: string): Promise<TapQos> {
  return tapQueue.run(tap, () => readTapQosNow(tap));
}

/** Removes both limits and the tap's ifb; a tap or ifb already gone is fine. */
export async function removeTapQos(tap: string): Promise<void> {
  await tapQueue.run(tap, async () => {
    if (linkExists(tap)) await tcIgnoringAbsent(['qdisc', 'del', 'dev', tap, 'root']);
    await removeOutbound(tap);
  });
}

/** tbf parameters for `bps`: a burst of 20 ms of traffic (at least 16 KiB so a full-size frame always fits), 50 ms of queue. */
function tbf(bps: number): string[] {
  const burst = Math.min(Math.max(Math.ceil(bps / 8 / 50), 16 * 1024), 64 * 1024 * 1024);
  return ['tbf', 'rate', `${bps}bit`, 'burst', String(burst), 'latency', '50ms'];
}

async function limitOutbound(tap: string, bps: number): Promise<void> {
  const ifb = ifbOf(tap);
  if (!linkExists(ifb)) await exec('ip', ['link', 'add', ifb, 'type', 'ifb']);
  await exec('ip', ['link', 'set', ifb, 'up']);
  await exec('tc', ['qdisc', 'replace', 'dev', ifb, 'root', 'handle', '1:', ...tbf(bps)]);
  // a fresh ingress qdisc (its filters go with it), then one filter sending every frame through the ifb
  await tcIgnoringAbsent(['qdisc', 'del', 'dev', tap, 'ingress']);
  await exec('tc', ['qdisc', 'add', 'dev', tap, 'handle', 'ffff:', 'ingress']);
  await exec('tc', ['filter', 'add', 'dev', tap, 'parent', 'ffff:', 'protocol', 'all', 'prio', '1', 'u32', 'match', 'u32', '0', '0', 'action', 'mirred', 'egress', 'redirect', 'dev', ifb]);
}

async function removeOutbound(tap: string): Promise<void> {
  if (linkExists(tap)) await tcIgnoringAbsent(['qdisc', 'del', 'dev', tap, 'ingress']);
  const ifb = ifbOf(tap);
  if (linkExists(ifb)) await exec('ip', ['link', 'del', ifb]).catch(() => undefined);
}

async function readTapQosNow(tap: string): Promise<TapQos> {
  const rateOf = async (dev: string): Promise<number | null> => {
    if (!linkExists(dev)) return null;
    const qdiscs = JSON.parse(await exec('tc', ['-j', 'qdisc', 'show', 'dev', dev])) as Array<{ kind: string; root?: boolean; options?: { rate?: number } }>;
    const root = qdiscs.find((q) => q.root && q.kind === 'tbf');
    return root?.options?.rate ? root.options.rate * 8 : null;
  };
  const ingress = linkExists(tap) ? (JSON.parse(await exec('tc', ['-j', 'qdisc', 'show', 'dev', tap])) as Array<{ kind: string }>).some((q) => q.kind === 'ingress') : false;
  return { inbound: await rateOf(tap), outbound: ingress ? await rateOf(ifbOf(tap)) : null };
}

/** `tc qdisc del` of a qdisc that is not there fails ("handle of zero", "Invalid handle"): that is the state wanted. */
async function tcIgnoringAbsent(args: string[]): Promise<void> {
  await exec('tc', args).catch((e: unknown) => {
    if (!/handle of zero|Invalid handle|Cannot find specified qdisc|No such file|Cannot find device/i.test(e instanceof Error ? e.message : String(e))) throw e;
  });
}
