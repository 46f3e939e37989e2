import type { L2NetworkView } from '../../contracts/network.ts';

/** The contract's view of an L2 row (what backends and observers receive). */
export function l2View(row: Record<string, unknown>): L2NetworkView {
  return {
    uuid: row.uuid as string,
    name: row.name as string,
    zoneUuid: row.zoneUuid as string,
    physicalInterface: (row.physicalInterface as string | null) ?? null,
    type: row.type as string,
    vSwitchType: row.vSwitchType as string,
    virtualNetworkId: row.virtualNetworkId === null || row.virtualNetworkId === undefined ? null : Number(row.virtualNetworkId),
    poolUuid: (row.poolUuid as string | null) ?? null,
  };
}
