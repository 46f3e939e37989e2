import type { ConnectHostCtx } from '../../contracts/host.ts';
import { L2NetworkTypes } from '../../contracts/network.ts';
import { StratoError, SysErrors } from '../../core/errors/index.ts';
import type { FlowStep } from '../../core/flow/index.ts';
import type { NodeContext } from '../../core/node-context.ts';
import type { SystemTagPattern } from '../../core/tag/index.ts';

/**
 * Whether a host can realize VLAN L2 networks, as its agent reported at `/host/connect`
 * (`vlanSupported`: an 802.1Q kernel or Open vSwitch). Kept as an inherent system tag on the host,
 * refreshed on every connect, so it is queryable (`QueryHost __systemTag__=vlanSupported::false`,
 * `QuerySystemTag`). A host without the tag (its agent did not say) is taken as able.
 */
export const HOST_VLAN_SUPPORTED_TAG = 'vlanSupported::{supported}';

export function defineVlanSupportTag(ctx: NodeContext): SystemTagPattern {
  return ctx.systemTags.define({
    pattern: HOST_VLAN_SUPPORTED_TAG,
    resourceType: 'HostVO',
    adminOnly: true,
    validate: ({ supported }) => {
      if (supported !== 'true' && supported !== 'false') throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `vlanSupported must be true or false, not ${supported}`);
    },
  });
}

const UNSUPPORTED = 'vlanSupported::false';
const HOW_TO_FIX = 'its kernel cannot make 802.1Q devices and Open vSwitch is not installed (install openvswitch-switch or load 8021q, then reconnect it)';

/** The VLAN L2 networks attached to a cluster. */
async function vlanL2sOf(ctx: NodeContext, clusterUuid: string): Promise<string[]> {
  const rows = await ctx.db.selectFrom('l2_network_cluster_ref as r').innerJoin('l2_network as l2', 'l2.uuid', 'r.l2NetworkUuid')
    .select('l2.uuid as uuid').where('r.clusterUuid', '=', clusterUuid).where('l2.type', '=', L2NetworkTypes.vlan).execute();
  return rows.map((r) => r.uuid as string);
}

/**
 * AttachL2NetworkToCluster of a VLAN L2: refused, before anything is written, when a host of the
 * cluster reported it cannot realize VLANs (it would half-work: VMs there fail to start).
 */
export async function checkClusterCanRealizeVlan(ctx: NodeContext, l2NetworkUuid: string, clusterUuid: string): Promise<void> {
  const unable = await ctx.db.selectFrom('host as h').innerJoin('system_tag as t', 't.resourceUuid', 'h.uuid')
    .select(['h.uuid as uuid', 'h.name as name']).where('h.clusterUuid', '=', clusterUuid).where('t.tag', '=', UNSUPPORTED).execute();
  if (!unable.length) return;
  const names = unable.map((h) => `${String(h.name)}[uuid:${String(h.uuid)}]`).join(', ');
  throw new StratoError(SysErrors.OPERATION_ERROR, `cannot attach the VLAN L2 network ${l2NetworkUuid} to cluster ${clusterUuid}: host ${names} cannot realize VLAN networks: ${HOW_TO_FIX}`);
}

/**
 * `host.connect`, once the agent answered: records the host's `vlanSupported` fact, and fails the
 * connect of a host that cannot realize VLANs while its cluster has a VLAN L2 attached. So adding such
 * a host to that cluster is refused (the add rolls back), and a host that lost the ability (a new
 * kernel, OVS removed) is left Disconnected with the reason, instead of failing each VM start there.
 */
export function recordHostVlanSupport(ctx: NodeContext): FlowStep<ConnectHostCtx> {
  return {
    name: 'l2-record-host-vlan-support',
    async run(c) {
      const supported = c.facts?.vlanSupported;
      if (typeof supported !== 'boolean') return; // an agent that does not tell: unknown, nothing recorded
      const tag = `vlanSupported::${String(supported)}`;
      const old = await ctx.db.selectFrom('system_tag').select(['uuid', 'tag']).where('resourceUuid', '=', c.uuid).where('tag', 'like', 'vlanSupported::%').execute();
      if (!(old.length === 1 && old[0].tag === tag)) {
        for (const t of old) await ctx.tags.delete(t.uuid as string);
        await ctx.tags.create('system', { resourceUuid: c.uuid, resourceType: 'HostVO', tag, inherent: true });
      }
      if (supported) return;
      const host = await ctx.db.selectFrom('host').select(['name', 'clusterUuid']).where('uuid', '=', c.uuid).executeTakeFirst();
      if (!host) return;
      const vlans = await vlanL2sOf(ctx, host.clusterUuid as string);
      if (vlans.length && c.newAdded) await dropFact(ctx, c.uuid); // the add rolls back: a failing step is not rolled back itself
      if (vlans.length) throw new StratoError(SysErrors.OPERATION_ERROR, `host ${String(host.name)}[uuid:${c.uuid}] cannot join cluster ${String(host.clusterUuid)}, which has the VLAN L2 network${vlans.length > 1 ? 's' : ''} ${vlans.join(', ')} attached: ${HOW_TO_FIX}`);
    },
    // A reconnect keeps the fact (true whatever fails next); an add that rolls back removes the host, so its tag too.
    async rollback(c) {
      if (c.newAdded) await dropFact(ctx, c.uuid);
    },
  };
}

async function dropFact(ctx: NodeContext, hostUuid: string): Promise<void> {
  const rows = await ctx.db.selectFrom('system_tag').select('uuid').where('resourceUuid', '=', hostUuid).where('tag', 'like', 'vlanSupported::%').execute();
  for (const t of rows) await ctx.tags.delete(t.uuid as string);
}
