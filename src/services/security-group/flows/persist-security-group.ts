import type { Kysely } from 'kysely';
import { SecurityGroupConstants } from '../../../contracts/security-group.ts';
import { isUniqueViolation } from '../../../core/db/unique-violation.ts';
import type { FlowStep } from '../../../core/flow/index.ts';
import { newUuid } from '../../../core/util/uuid.ts';

export interface CreateSecurityGroupCtx {
  uuid: string;
  name: string;
  description?: string;
  ipVersion: number;
  systemTags?: string[];
  userTags?: string[];
  persisted?: boolean;
}

/** ZStack's createDefaultRule: for IPv4 and IPv6, ingress and egress of every protocol, open to the group itself. */
export function defaultRules(securityGroupUuid: string, now: number) {
  return [4, 6].flatMap((ipVersion) =>
    (['Ingress', 'Egress'] as const).map((type) => ({
      uuid: newUuid(), securityGroupUuid, type, ipVersion, protocol: 'ALL', state: 'Enabled', priority: SecurityGroupConstants.DEFAULT_RULE_PRIORITY,
      description: SecurityGroupConstants.DEFAULT_RULE_DESCRIPTION, action: 'ACCEPT', remoteSecurityGroupUuid: securityGroupUuid,
      allowedCidr: ipVersion === 4 ? SecurityGroupConstants.WORLD_OPEN_CIDR : SecurityGroupConstants.WORLD_OPEN_CIDR_IPV6, startPort: -1, endPort: -1, createDate: now, lastOpDate: now,
    })),
  );
}

async function insertGroup(db: Kysely<any>, ctx: CreateSecurityGroupCtx): Promise<void> {
  // internalId is ZStack's sequence number (a host backend names its chains by it): next after the
  // largest, with the UNIQUE index settling two concurrent creates (the loser takes the next one).
  for (let attempt = 0; ; attempt++) {
    const max = await db.selectFrom('security_group').select((eb) => eb.fn.max('internalId').as('m')).executeTakeFirst();
    const now = Date.now();
    try {
      await db.transaction().execute(async (tx) => {
        await tx.insertInto('security_group').values({ uuid: ctx.uuid, name: ctx.name, description: ctx.description ?? null, state: 'Enabled', ipVersion: ctx.ipVersion, internalId: Number(max?.m ?? 0) + 1, createDate: now, lastOpDate: now }).execute();
        await tx.insertInto('security_group_rule').values(defaultRules(ctx.uuid, now)).execute();
      });
      return;
    } catch (e) {
      if (!isUniqueViolation(e) || attempt >= 20) throw e;
    }
  }
}

/** Inserts the group with its four default rules; rollback removes both. */
export const persistSecurityGroup: FlowStep<CreateSecurityGroupCtx> = {
  name: 'persist-security-group',
  async run(ctx, env) {
    await insertGroup(env.services.db!, ctx);
    ctx.persisted = true;
  },
  async rollback(ctx, env) {
    const db = env.services.db!;
    await db.deleteFrom('security_group_rule').where('securityGroupUuid', '=', ctx.uuid).execute();
    await db.deleteFrom('security_group').where('uuid', '=', ctx.uuid).execute();
  },
};
