import type { Kysely } from 'kysely';
import { StratoError, SysErrors } from '../../core/errors/index.ts';

/** ZStack's error for an exhausted pool. */
export const noFreeVni = (poolUuid: string) => new StratoError(SysErrors.OPERATION_ERROR, `no free VNI in the VXLAN pool ${poolUuid}: every VNI of its ranges is used`);

/**
 * The lowest VNI of the pool's ranges that no VXLAN network of the pool uses. After a lost race
 * (`attempt` > 0) it skips a few free VNIs at random so that concurrent creators stop colliding.
 */
export async function pickFreeVni(db: Kysely<any>, poolUuid: string, attempt = 0): Promise<number> {
  const ranges = await db.selectFrom('vni_range').select(['startVni', 'endVni']).where('l2NetworkUuid', '=', poolUuid).orderBy('startVni').execute();
  const used = new Set((await db.selectFrom('l2_network').select('virtualNetworkId').where('poolUuid', '=', poolUuid).execute()).map((r) => Number(r.virtualNetworkId)));
  let skip = attempt === 0 ? 0 : Math.floor(Math.random() * Math.min(2 ** attempt, 64));
  let lastFree: number | undefined;
  for (const r of ranges) {
    for (let v = Number(r.startVni); v <= Number(r.endVni); v++) {
      if (used.has(v)) continue;
      lastFree = v;
      if (skip-- <= 0) return v;
    }
  }
  if (lastFree !== undefined) return lastFree;
  throw noFreeVni(poolUuid);
}

/** True when the VNI lies in one of the pool's ranges. */
export async function vniInPool(db: Kysely<any>, poolUuid: string, vni: number): Promise<boolean> {
  const r = await db.selectFrom('vni_range').select('uuid').where('l2NetworkUuid', '=', poolUuid).where('startVni', '<=', vni).where('endVni', '>=', vni).executeTakeFirst();
  return r !== undefined;
}
