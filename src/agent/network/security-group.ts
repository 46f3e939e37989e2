import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { ApplySecurityGroupRulesCmd } from '../../contracts/security-group.ts';
import { SecurityGroupAgentPaths } from '../../contracts/security-group.ts';
import type { CommandRegistry } from '../command-registry.ts';
import { exec } from '../exec.ts';
import { KeyedQueue } from '../keyed-queue.ts';
import { EBTABLES, ebtablesQueue } from './ebtables-queue.ts';
import { arpScript, parseEbtablesSave, type ArpState } from './security-group-arp.ts';
import { parseIptablesSave, planRules, restoreScript, type FirewallState, type NicRuleSet } from './security-group-rules.ts';

const BR_NF = '/proc/sys/net/bridge/bridge-nf-call-iptables';
const BR_NF6 = '/proc/sys/net/bridge/bridge-nf-call-ip6tables';
/** A kernel without IPv6 has no IPv6 traffic to filter (and ip6tables would fail). */
const hasIPv6 = () => existsSync('/proc/net/if_inet6');
const linkExists = (name: string) => existsSync(`/sys/class/net/${name}`);

/**
 * Security groups on a KVM host (ZStack's kvmagent `securitygroup_plugin`): iptables with physdev
 * matches on the VMs' taps in their bridges, stateful through conntrack (layout in
 * `security-group-rules.ts`), and ebtables for the layer-2 anti-spoofing (`security-group-arp.ts`).
 * The kernel's ruleset is the only state: every command reads it (`iptables -S`, `ebtables-save`),
 * computes the target and applies it with one `*-restore --noflush` per table, so an agent
 * restart loses nothing and a command repeated changes nothing. Commands run one at a time. Rules live
 * in the network namespace the agent runs in (a pretend host has its own).
 */
export class SecurityGroupFirewall {
  readonly #queue = new KeyedQueue();

  /** `/securitygroup/applyrules`: the NICs listed get exactly these rules (or lose their chains); other NICs are untouched. */
  apply(cmd: Partial<ApplySecurityGroupRulesCmd>): Promise<Record<string, unknown>> {
    const plan = planRules(cmd);
    return this.#queue.run('iptables', async () => {
      if (plan.apply.length) ensureBridgeNetfilter();
      return readAndCommit(async (state) => {
        await commit(state, plan.apply, plan.remove);
        return { applied: plan.apply.map((n) => n.tap), removed: plan.remove.filter((t) => state.taps.has(t)) };
      }, readState);
    });
  }

  /** `/securitygroup/refreshrulesonhost`: the NICs listed are the host's whole set; chains of any other NIC go. */
  refresh(cmd: Partial<ApplySecurityGroupRulesCmd>): Promise<Record<string, unknown>> {
    const plan = planRules(cmd);
    return this.#queue.run('iptables', async () => {
      if (plan.apply.length) ensureBridgeNetfilter();
      const keep = new Set(plan.apply.map((n) => n.tap));
      return readAndCommit(async (state) => {
        const stale = [...state.taps].filter((t) => !keep.has(t));
        await commit(state, plan.apply, stale);
        return { applied: [...keep], removed: stale };
      }, readState);
    });
  }

  /**
   * `/securitygroup/cleanupunusedrules`: chains of NICs whose tap is gone from the host are removed
   * (a VM destroyed behind the node's back). Not to be sent between applying a starting VM's rules
   * and its `/vm/start`: its tap does not exist yet.
   */
  cleanupUnused(): Promise<Record<string, unknown>> {
    return this.#queue.run('iptables', () => readAndCommit(async (state) => {
      const unused = [...state.taps].filter((t) => !linkExists(t));
      await commit(state, [], unused);
      return { removed: unused };
    }, readState));
  }
}

/** Bridged frames reach iptables (ip6tables) only with br_netfilter's hooks on (a per-namespace setting). */
export function ensureBridgeNetfilter(files: readonly string[] = hasIPv6() ? [BR_NF, BR_NF6] : [BR_NF]): void {
  if (!existsSync(files[0])) {
    throw new Error(`security groups are unsupported on this host: bridge netfilter is missing (${files[0]}); the kernel needs br_netfilter (modprobe br_netfilter)`);
  }
  for (const f of files) {
    if (readFileSync(f, 'utf8').trim() === '1') continue;
    try {
      writeFileSync(f, '1');
    } catch (e) {
      throw new Error(`security groups need ${f.slice('/proc/sys/'.length).replace(/\//g, '.')}=1 and it could not be set: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  }
}

interface HostState {
  ip: FirewallState;
  /** Undefined on a kernel without IPv6. */
  ip6?: FirewallState;
  arp: ArpState;
  /** Taps with chains of ours in either table. */
  taps: Set<string>;
}

async function readState(): Promise<HostState> {
  const ip = parseIptablesSave(await exec('iptables', ['-w', '-t', 'filter', '-S']));
  const ip6 = hasIPv6() ? parseIptablesSave(await exec('ip6tables', ['-w', '-t', 'filter', '-S'])) : undefined;
  const arp = parseEbtablesSave(await exec('ebtables-save', []));
  return { ip, ip6, arp, taps: new Set([...ip.taps, ...(ip6?.taps ?? []), ...arp.taps]) };
}

const EMPTY = '*filter\nCOMMIT\n';

/**
 * Reads the ruleset and commits a change computed from it, once more from a fresh read if that fails:
 * the scripts name the rules they delete, so another program changing a table between the read and
 * the restore (the host's own firewall, another agent's NAT, iptables-nft's lock-free commits) fails
 * that table's restore as a whole; the second try starts from what every table now holds.
 */
export async function readAndCommit<S, T>(change: (state: S) => Promise<T>, read: () => Promise<S>): Promise<T> {
  try {
    return await change(await read());
  } catch {
    return change(await read());
  }
}

/** Layer 2 first (ebtables), then IPv4 and IPv6; each is one all-or-nothing transaction. */
async function commit(state: HostState, build: readonly NicRuleSet[], remove: readonly string[]): Promise<void> {
  const arp = arpScript(state.arp, build, remove);
  if (arp !== EMPTY) await ebtablesQueue.run(EBTABLES, () => restore('ebtables-restore', arp));
  const ip = restoreScript(state.ip, build, remove, 4);
  if (ip !== EMPTY) await restore('iptables-restore', ip); // none of ours here, none asked for
  const ip6 = state.ip6 && restoreScript(state.ip6, build, remove, 6);
  if (ip6 && ip6 !== EMPTY) await restore('ip6tables-restore', ip6);
}

/** iptables' restores wait for the xtables lock (legacy iptables: another program holding it would fail the change at once). */
function restore(program: string, input: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, program === 'ebtables-restore' ? ['--noflush'] : ['-w', '--noflush'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${program} failed (${code}): ${stderr.trim()}`))));
    child.stdin.end(input);
  });
}

/** The security-group commands of a KVM host. */
export function defineSecurityGroupCommands(commands: CommandRegistry): SecurityGroupFirewall {
  const fw = new SecurityGroupFirewall();
  commands.define(SecurityGroupAgentPaths.applyRules, (cmd: Partial<ApplySecurityGroupRulesCmd>) => fw.apply(cmd));
  commands.define(SecurityGroupAgentPaths.refreshRulesOnHost, (cmd: Partial<ApplySecurityGroupRulesCmd>) => fw.refresh(cmd));
  commands.define(SecurityGroupAgentPaths.cleanupUnusedRules, () => fw.cleanupUnused());
  return fw;
}
