import { StratoError, SysErrors, toErrorCode } from '../errors/index.ts';
import { defaultLogger, type CoreLogger } from '../flow/logger.ts';
import { sortGraph } from './graph.ts';
import type { CascadeContext, CascadeEntry, CascadeFailure, CascadeResult, DeletionMode } from './types.ts';

export interface CascadeDeleteRequest<D = unknown> {
  resource: string;
  uuids: string[];
  mode: DeletionMode;
  data?: D;
}

/**
 * The cascade graph of one management node: resources declare their parents; deleting a resource
 * walks its subtree children-first through the phases check (Permissive) → delete (force in
 * Enforcing) → cleanup. Register every entry at boot, then `seal()` validates the graph.
 *
 * @example
 *   const cascade = new CascadeRegistry({ log });
 *   cascade.register(zoneEntry); cascade.register(clusterEntry); cascade.register(hostEntry);
 *   cascade.seal();
 *   await cascade.delete({ resource: 'ZoneVO', uuids: [zoneUuid], mode: 'Permissive' });
 */
export class CascadeRegistry {
  readonly #entries = new Map<string, CascadeEntry>();
  readonly #log: CoreLogger;
  #order: string[] | undefined;
  #childrenOf = new Map<string, string[]>();

  constructor(opts: { log?: CoreLogger } = {}) {
    this.#log = opts.log ?? defaultLogger('strato.cascade');
  }

  register(entry: CascadeEntry): void {
    if (this.#order) throw new StratoError(SysErrors.INTERNAL, `cascade is sealed; cannot register ${entry.resource}`);
    if (this.#entries.has(entry.resource)) throw new StratoError(SysErrors.INTERNAL, `cascade entry ${entry.resource} is already registered`);
    if (entry.parents.length > 0 && typeof entry.children !== 'function') {
      throw new StratoError(SysErrors.INTERNAL, `cascade entry ${entry.resource} has parents but no children() to find its resources under them`);
    }
    this.#entries.set(entry.resource, entry);
  }

  /** Validate the graph (unknown parents, cycles) and freeze it. */
  seal(): void {
    if (this.#order) return;
    const { order, childrenOf } = sortGraph([...this.#entries.values()].map((e) => ({ name: e.resource, parents: e.parents })));
    this.#order = order;
    this.#childrenOf = childrenOf;
  }

  get sealed(): boolean {
    return this.#order !== undefined;
  }

  /** The resources below `resource` (and itself) with their uuids, parents before children. */
  async collect<D>(req: { resource: string; uuids: string[]; mode?: DeletionMode; data?: D }): Promise<Map<string, string[]>> {
    const order = this.#sealedOrder();
    this.#entry(req.resource);
    const reachable = new Set<string>([req.resource]);
    for (const name of order) if (reachable.has(name)) for (const c of this.#childrenOf.get(name) ?? []) reachable.add(c);
    const base = { mode: req.mode ?? 'Permissive', root: { resource: req.resource, uuids: req.uuids }, data: req.data as D };
    const subtree = new Map<string, string[]>([[req.resource, dedupe(req.uuids)]]);
    for (const name of order) {
      if (name === req.resource || !reachable.has(name)) continue;
      const entry = this.#entry(name);
      const found: string[] = [];
      for (const parent of entry.parents) {
        const parentUuids = subtree.get(parent);
        if (!parentUuids?.length) continue;
        try {
          found.push(...(await entry.children!(parent, [...parentUuids], base)));
        } catch (e) {
          throw new StratoError(SysErrors.DELETE_RESOURCE_ERROR, `cannot delete ${req.resource}: failed to find the ${name} under ${parent}`, { cause: e });
        }
      }
      subtree.set(name, dedupe(found));
    }
    return subtree;
  }

  /**
   * Delete `uuids` of `resource` and everything under it, children first. Permissive: every `check`
   * runs first over the whole subtree (a veto aborts with nothing deleted), then every `delete`; the
   * first error stops the deletion. Enforcing: every `delete` runs with force=true, a child's error is
   * recorded in the result and the rest continues; only a failure of the root itself rejects. Then
   * `cleanup` of every registered resource (errors recorded, never thrown). Failures reject with
   * SYS.1004 carrying the cause.
   */
  async delete<D = unknown>(req: CascadeDeleteRequest<D>): Promise<CascadeResult> {
    const subtree = await this.collect(req);
    const ctx: CascadeContext<D> = { mode: req.mode, root: { resource: req.resource, uuids: [...req.uuids] }, subtree, data: req.data as D };
    const postOrder = [...subtree.keys()].reverse().filter((r) => subtree.get(r)!.length > 0);
    const errors: CascadeFailure[] = [];

    if (req.mode === 'Permissive') {
      for (const name of postOrder) {
        const entry = this.#entry(name);
        if (!entry.check) continue;
        const uuids = [...subtree.get(name)!];
        try {
          await entry.check(uuids, ctx);
        } catch (e) {
          throw new StratoError(SysErrors.DELETE_RESOURCE_ERROR, `cannot delete ${req.resource} ${req.uuids.join(', ')}: ${name} refused`, { cause: e, opaque: { resource: name, uuids } });
        }
      }
    }

    const force = req.mode === 'Enforcing';
    const deleted: CascadeResult['deleted'] = [];
    let rootFailure: unknown;
    for (const name of postOrder) {
      const uuids = [...subtree.get(name)!];
      try {
        await this.#entry(name).delete(uuids, { force, ctx });
        deleted.push({ resource: name, uuids });
      } catch (e) {
        if (!force) throw new StratoError(SysErrors.DELETE_RESOURCE_ERROR, `failed to delete ${name} ${uuids.join(', ')} while deleting ${req.resource}`, { cause: e, opaque: { resource: name, uuids } });
        errors.push({ resource: name, phase: 'delete', uuids, error: toErrorCode(e) });
        this.#log.warn({ err: e, resource: name, uuids, root: req.resource }, 'force deletion of a cascaded resource failed; continuing');
        if (name === req.resource) rootFailure = e;
      }
    }

    await this.#cleanup(ctx, errors);
    if (rootFailure !== undefined) {
      throw new StratoError(SysErrors.DELETE_RESOURCE_ERROR, `failed to delete ${req.resource} ${req.uuids.join(', ')}`, { cause: rootFailure, opaque: { errors } });
    }
    return { deleted, errors };
  }

  async #cleanup(ctx: CascadeContext<any>, errors: CascadeFailure[]): Promise<void> {
    for (const name of [...this.#sealedOrder()].reverse()) {
      const entry = this.#entry(name);
      if (!entry.cleanup) continue;
      try {
        await entry.cleanup(ctx);
      } catch (e) {
        errors.push({ resource: name, phase: 'cleanup', uuids: [], error: toErrorCode(e) });
        this.#log.error({ err: e, resource: name }, 'cascade cleanup failed; ignored');
      }
    }
  }

  #sealedOrder(): string[] {
    if (!this.#order) throw new StratoError(SysErrors.INTERNAL, 'the cascade registry must be sealed before use');
    return this.#order;
  }

  #entry(name: string): CascadeEntry {
    const e = this.#entries.get(name);
    if (!e) throw new StratoError(SysErrors.DELETE_RESOURCE_ERROR, `no cascade entry is registered for ${name}`);
    return e;
  }
}

function dedupe(uuids: readonly string[]): string[] {
  return [...new Set(uuids)];
}
