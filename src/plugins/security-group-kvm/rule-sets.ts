import type { Kysely } from 'kysely';
import type { ApplySecurityGroupRulesCmd, SecurityGroupNicTO, SecurityGroupRuleTO } from '../../contracts/security-group.ts';
import { readCache } from '../../core/db/index.ts';

/**
 * What a host must hold for some NICs, computed from the security-group tables (read-only here: the
 * security-group service owns them) and the VM service's `vm_nic`. A NIC's groups are its Enabled
 * groups, first joined first; a group's rules are its Enabled rules; a rule naming a remote group
 * carries the IPs of that group's member NICs (every member with an address whose VM is not destroyed,
 * running or stopped: a stopped VM keeps its IP, so starts and stops elsewhere need no update here;
 * destroying or recovering a VM does).
 */

/** VMs in these states do not count as remote-group members (their NICs may keep IP rows until expunged). */
export const GONE_STATES = ['Destroying', 'Destroyed', 'Expunging'];

/** A NIC as the plugin needs it (VmNicView has these fields). */
export interface SgNic {
  uuid: string;
  internalName: string;
  mac: string;
  ip: string | null;
  l3NetworkUuid: string;
}

export interface NicOnHost extends SgNic {
  hostUuid: string | null;
}

/** The NICs by uuid, with the host their VM is on (null when it is on none). */
export async function nicsWithHost(db: Kysely<any>, nicUuids: readonly string[]): Promise<NicOnHost[]> {
  if (!nicUuids.length) return [];
  const rows = await db.selectFrom('vm_nic as n').innerJoin('vm_instance as v', 'v.uuid', 'n.vmInstanceUuid')
    .select(['n.uuid as uuid', 'n.internalName as internalName', 'n.mac as mac', 'n.ip as ip', 'n.l3NetworkUuid as l3NetworkUuid', 'v.hostUuid as hostUuid'])
    .where('n.uuid', 'in', [...new Set(nicUuids)]).execute();
  return rows as NicOnHost[];
}

/** The NICs of every VM recorded on a host. */
export async function nicsOnHost(db: Kysely<any>, hostUuid: string): Promise<NicOnHost[]> {
  const rows = await db.selectFrom('vm_nic as n').innerJoin('vm_instance as v', 'v.uuid', 'n.vmInstanceUuid')
    .select(['n.uuid as uuid', 'n.internalName as internalName', 'n.mac as mac', 'n.ip as ip', 'n.l3NetworkUuid as l3NetworkUuid', 'v.hostUuid as hostUuid'])
    .where('v.hostUuid', '=', hostUuid).orderBy('n.uuid').execute();
  return rows as NicOnHost[];
}

/** The member NICs of these groups. */
export async function membersOf(db: Kysely<any>, sgUuids: readonly string[]): Promise<string[]> {
  if (!sgUuids.length) return [];
  const rows = await db.selectFrom('vm_nic_security_group_ref').select('vmNicUuid').where('securityGroupUuid', 'in', [...new Set(sgUuids)]).execute();
  return [...new Set(rows.map((r) => r.vmNicUuid as string))];
}

/** The groups whose rules name one of these groups as their remote group (their members' rules change with its membership). */
export async function groupsNaming(db: Kysely<any>, sgUuids: readonly string[]): Promise<string[]> {
  if (!sgUuids.length) return [];
  const rows = await db.selectFrom('security_group_rule').select('securityGroupUuid').where('remoteSecurityGroupUuid', 'in', [...new Set(sgUuids)]).execute();
  return [...new Set(rows.map((r) => r.securityGroupUuid as string))];
}

/**
 * Whether a host may hold chains for any of these NICs: one is a member of a group, or sits on an L3
 * network with the SecurityGroup service (it may have been a member). Other NICs never cost an agent call.
 */
export async function concernsSecurityGroups(db: Kysely<any>, nics: readonly SgNic[]): Promise<boolean> {
  if (!nics.length) return false;
  const member = await db.selectFrom('vm_nic_security_group_ref').select('vmNicUuid').where('vmNicUuid', 'in', nics.map((n) => n.uuid)).limit(1).executeTakeFirst();
  if (member) return true;
  // Asked for every VM started or created; which L3 networks offer the service changes seldom: from the read
  // cache until network_service_l3_ref is written (read afresh on MariaDB).
  const l3s = [...new Set(nics.map((n) => n.l3NetworkUuid))].sort();
  return readCache(db).get(`sgKvm.l3HasService:${l3s.join(',')}`, ['network_service_l3_ref'], async () =>
    !!(await db.selectFrom('network_service_l3_ref').select('l3NetworkUuid').where('l3NetworkUuid', 'in', l3s).where('networkServiceType', '=', 'SecurityGroup').limit(1).executeTakeFirst()));
}

/**
 * The agent command for these NICs: members get their chains (`applyChain`), the others lose theirs
 * (`deleteChain`) unless `membersOnly` (a host refresh lists only what must stay).
 */
export async function ruleCommand(db: Kysely<any>, nics: readonly SgNic[], opts: { membersOnly?: boolean } = {}): Promise<ApplySecurityGroupRulesCmd> {
  const groupsOf = new Map<string, string[]>();
  if (nics.length) {
    const refs = await db.selectFrom('vm_nic_security_group_ref as r').innerJoin('security_group as g', 'g.uuid', 'r.securityGroupUuid')
      .select(['r.vmNicUuid as nic', 'r.securityGroupUuid as sg']).where('r.vmNicUuid', 'in', nics.map((n) => n.uuid)).where('g.state', '=', 'Enabled')
      .orderBy('r.priority').orderBy('r.createDate').orderBy('r.uuid').execute();
    for (const r of refs) groupsOf.set(r.nic as string, [...(groupsOf.get(r.nic as string) ?? []), r.sg as string]);
  }
  const groups = [...new Set([...groupsOf.values()].flat())];
  const rules: Record<string, SecurityGroupRuleTO[]> = Object.fromEntries(groups.map((g) => [g, []]));
  if (groups.length) {
    const rows = await db.selectFrom('security_group_rule').selectAll().where('securityGroupUuid', 'in', groups).where('state', '=', 'Enabled').orderBy('priority').orderBy('createDate').orderBy('uuid').execute();
    const remoteIps = await memberIps(db, rows.map((r) => r.remoteSecurityGroupUuid as string | null).filter((u): u is string => !!u));
    for (const r of rows) {
      rules[r.securityGroupUuid as string].push({
        type: r.type, protocol: r.protocol, ipVersion: Number(r.ipVersion), startPort: Number(r.startPort), endPort: Number(r.endPort),
        allowedCidr: r.allowedCidr as string, action: r.action, priority: Number(r.priority),
        ...(r.remoteSecurityGroupUuid ? { remoteGroupIps: remoteIps.get(r.remoteSecurityGroupUuid as string) ?? [] } : {}),
      });
    }
  }
  const tos: SecurityGroupNicTO[] = [];
  for (const n of nics) {
    const sgs = groupsOf.get(n.uuid) ?? [];
    if (!sgs.length && opts.membersOnly) continue;
    tos.push({ vmNicUuid: n.uuid, internalName: n.internalName, mac: n.mac, ips: n.ip ? [n.ip] : [], securityGroupUuids: sgs, ...(sgs.length ? {} : { actionCode: 'deleteChain' as const }) });
  }
  return { nics: tos, rules };
}

async function memberIps(db: Kysely<any>, sgUuids: readonly string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (!sgUuids.length) return out;
  const rows = await db.selectFrom('vm_nic_security_group_ref as r').innerJoin('vm_nic as n', 'n.uuid', 'r.vmNicUuid').innerJoin('vm_instance as v', 'v.uuid', 'n.vmInstanceUuid')
    .select(['r.securityGroupUuid as sg', 'n.ip as ip']).where('r.securityGroupUuid', 'in', [...new Set(sgUuids)]).where('n.ip', 'is not', null)
    .where('v.state', 'not in', GONE_STATES).orderBy('n.ip').execute();
  for (const r of rows) {
    const list = out.get(r.sg as string) ?? [];
    if (!list.includes(r.ip as string)) list.push(r.ip as string);
    out.set(r.sg as string, list);
  }
  return out;
}
