import { sha512, type TestNode, type TestClient } from './test-node.ts';

/** A normal account made by the administrator through CreateAccount, and logged in through the REST API. */
export async function createTenant(t: TestNode, name: string, password = 'password'): Promise<{ uuid: string; client: TestClient }> {
  const admin = await t.login();
  const account = (await admin.call('POST', '/accounts', { params: { name, password: sha512(password), type: 'Normal' } })).inventory;
  return { uuid: account.uuid, client: await t.login(name, password) };
}
