import type { Kysely } from 'kysely';
import { hashSecret } from '../../src/services/identity/password.ts';
import { newUuid } from '../../src/core/util/uuid.ts';
import { sha512, type TestNode, type TestClient } from './test-node.ts';

/**
 * A normal account, inserted straight into the identity schema (the account row and its scrypt
 * password, exactly as CreateAccount stores them) and logged in through the REST API.
 */
export async function createTenant(t: TestNode, name: string, password = 'password'): Promise<{ uuid: string; client: TestClient }> {
  const db: Kysely<any> = t.node.ctx.db;
  const uuid = newUuid();
  const now = Date.now();
  await db.insertInto('account').values({ uuid, name, type: 'Normal', description: null, passwordHash: await hashSecret(sha512(password)), createDate: now, lastOpDate: now }).execute();
  return { uuid, client: await t.login(name, password) };
}
