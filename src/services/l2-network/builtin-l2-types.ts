import { L2NetworkTypePoint, L2NetworkTypes, VXLAN_POOL_CLUSTER_CIDR_TAG, type L2NetworkTypeBackend } from '../../contracts/network.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import type { SystemTagPattern } from '../../core/tag/index.ts';

const CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

function validCidr(cidr: string): boolean {
  const m = CIDR.exec(cidr);
  return !!m && m.slice(1, 5).every((o) => Number(o) <= 255) && Number(m[5]) <= 32;
}

/**
 * The control-plane backends of the four built-in L2 types: they validate and let the service
 * persist; nothing is realized on hosts. Real backends (Linux bridges, VTEPs) take their place by
 * registering the same keys.
 */
export function defineVxlanCidrTag(ctx: NodeContext): SystemTagPattern {
  return ctx.systemTags.define({
    pattern: VXLAN_POOL_CLUSTER_CIDR_TAG,
    resourceType: 'L2NetworkVO',
    validate: ({ cidr }) => {
      if (!validCidr(cidr)) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `[${cidr}] is not an IPv4 CIDR`);
    },
  });
}

/**
 * Registered in the service's `start`, after every module's `setup`: a plugin that registered a
 * backend for one of these types during its setup keeps it.
 */
export function registerBuiltinL2Types(ctx: NodeContext, cidrTag: SystemTagPattern): void {
  const plain: L2NetworkTypeBackend = {};
  const vxlanPool: L2NetworkTypeBackend = {
    attachToCluster(l2, clusterUuid, systemTags) {
      const mine = systemTags.map((t) => cidrTag.parse(t)).find((tk) => tk && tk.l2NetworkUuid === l2.uuid && tk.clusterUuid === clusterUuid);
      if (!mine) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `attaching the VXLAN pool ${l2.uuid} to cluster ${clusterUuid} needs the system tag ${cidrTag.pattern} naming them (the VTEP CIDR of the cluster)`);
    },
  };
  const by = 'l2Network';
  for (const type of [L2NetworkTypes.noVlan, L2NetworkTypes.vlan, L2NetworkTypes.vxlan]) {
    if (!ctx.extensions.findStrategy(L2NetworkTypePoint, type)) ctx.extensions.registerStrategy(L2NetworkTypePoint, type, plain, { by });
  }
  if (!ctx.extensions.findStrategy(L2NetworkTypePoint, L2NetworkTypes.vxlanPool)) ctx.extensions.registerStrategy(L2NetworkTypePoint, L2NetworkTypes.vxlanPool, vxlanPool, { by });
}

export type CidrTagPattern = SystemTagPattern;
