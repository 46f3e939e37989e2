import { StratoError, SysErrors } from '../errors/index.ts';
import { SystemTagPattern, type SystemTagDef } from './system-tag-pattern.ts';

/** The system tags each resource type accepts; services and plugins declare theirs at start-up. */
export class SystemTagRegistry {
  readonly #byType = new Map<string, SystemTagPattern[]>();

  define(def: SystemTagDef): SystemTagPattern {
    const p = new SystemTagPattern(def);
    const list = this.#byType.get(def.resourceType) ?? [];
    if (list.some((x) => x.pattern === def.pattern)) throw new Error(`system tag ${def.pattern} declared twice for ${def.resourceType}`);
    list.push(p);
    this.#byType.set(def.resourceType, list);
    return p;
  }

  patterns(resourceType: string): readonly SystemTagPattern[] {
    return this.#byType.get(resourceType) ?? [];
  }

  /**
   * Checks a system tag against the patterns declared for the resource type: it must match one,
   * and that pattern's validator must accept its tokens.
   */
  validate(resourceType: string, tag: string, opts: { isAdmin?: boolean } = {}): { pattern: SystemTagPattern; tokens: Record<string, string> } {
    for (const p of this.patterns(resourceType)) {
      const tokens = p.parse(tag);
      if (!tokens) continue;
      if (p.def.adminOnly && opts.isAdmin === false) throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `only admins can set the system tag ${p.pattern}`);
      p.def.validate?.(tokens);
      return { pattern: p, tokens };
    }
    const known = this.patterns(resourceType).map((p) => p.pattern);
    throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `no system tag matches [${tag}] for ${resourceType}${known.length ? `; valid patterns: ${known.join(', ')}` : '; it accepts no system tags'}`);
  }
}
