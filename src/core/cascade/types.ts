import type { ErrorCode } from '../errors/index.ts';

/** ZStack's deletion modes: Permissive checks first and stops at the first error; Enforcing force-deletes everything it can. */
export type DeletionMode = 'Permissive' | 'Enforcing';

/** What every cascade callback sees about the deletion in progress. */
export interface CascadeContext<D = unknown> {
  readonly mode: DeletionMode;
  /** The resource the caller asked to delete. */
  readonly root: { readonly resource: string; readonly uuids: readonly string[] };
  /** The uuids of every resource in the subtree (root included), by resource name. */
  readonly subtree: ReadonlyMap<string, readonly string[]>;
  /** Whatever the caller passed (the API caller, a reason, the API message). */
  readonly data: D;
}

/**
 * How one resource takes part in cascades; registered by the service that owns the resource, and
 * also for the resource's own deletion (the root is deleted by its own entry).
 *
 * @example
 *   cascade.register({
 *     resource: 'ClusterVO',
 *     parents: ['ZoneVO'],
 *     children: async (_parent, zoneUuids) => (await db.selectFrom('cluster').select('uuid').where('zoneUuid', 'in', zoneUuids).execute()).map((r) => r.uuid),
 *     check: async (uuids) => { await extensions.callVeto(ClusterLifecyclePoint, 'preDelete', uuids); },
 *     delete: async (uuids, { force }) => { await deleteClusters(uuids, force); },
 *   });
 */
export interface CascadeEntry<D = any> {
  /** By convention the VO name: 'ClusterVO'. */
  readonly resource: string;
  /** The resources this one hangs under; a resource may have several (the graph is a DAG). */
  readonly parents: readonly string[];
  /** The uuids of this resource under the given parents; required when `parents` is not empty. */
  children?(parentResource: string, parentUuids: string[], ctx: Omit<CascadeContext<D>, 'subtree'>): Promise<string[]> | string[];
  /** Permissive mode only: throw to veto the whole deletion, before anything is deleted. */
  check?(uuids: string[], ctx: CascadeContext<D>): Promise<void> | void;
  /** Delete these resources (children are already gone). With `force`, do not give up on errors you can ignore. */
  delete(uuids: string[], opts: { force: boolean; ctx: CascadeContext<D> }): Promise<void> | void;
  /** Called for every registered resource after a deletion, e.g. to purge soft-deleted rows. */
  cleanup?(ctx: CascadeContext<D>): Promise<void> | void;
}

export interface CascadeFailure {
  resource: string;
  phase: 'collect' | 'check' | 'delete' | 'cleanup';
  uuids: string[];
  error: ErrorCode;
}

export interface CascadeResult {
  /** Every resource of the subtree with its uuids, in the order they were deleted (children first). */
  deleted: Array<{ resource: string; uuids: string[] }>;
  /** Errors that did not stop the deletion: child deletions in Enforcing mode, cleanups. */
  errors: CascadeFailure[];
}
