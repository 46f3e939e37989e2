import { StratoError, SysErrors } from '../errors/index.ts';

/**
 * A declared system tag: a `::`-separated pattern whose `{token}` segments are variables
 * (`hostname::{hostname}`, `staticIp::{l3NetworkUuid}::{staticIp}`). Tags that match no
 * declared pattern for their resource type are refused.
 *
 * @example
 *   const HOSTNAME = tags.define({ pattern: 'hostname::{hostname}', resourceType: 'VmInstanceVO',
 *     validate: ({ hostname }) => { if (!/^[a-z0-9-]+$/.test(hostname)) throw … } });
 *   HOSTNAME.parse('hostname::web1');   // { hostname: 'web1' }
 */
export interface SystemTagDef {
  pattern: string;
  resourceType: string;
  /** Throw a StratoError to refuse a tag whose tokens are malformed. */
  validate?(tokens: Record<string, string>): void;
  /** Only admins may set it. */
  adminOnly?: boolean;
}

export class SystemTagPattern {
  readonly segments: ReadonlyArray<{ literal: string } | { token: string }>;

  constructor(readonly def: SystemTagDef) {
    this.segments = def.pattern.split('::').map((s) => {
      const m = /^\{([A-Za-z0-9_]+)\}$/.exec(s);
      return m ? { token: m[1] } : { literal: s };
    });
  }

  get pattern(): string {
    return this.def.pattern;
  }

  /** Token values if the tag has this pattern's shape, else undefined. The last token takes any `::` left over. */
  parse(tag: string): Record<string, string> | undefined {
    const parts = tag.split('::');
    if (parts.length < this.segments.length) return undefined;
    if (parts.length > this.segments.length) {
      const last = this.segments[this.segments.length - 1];
      if (!('token' in last)) return undefined;
      parts.splice(this.segments.length - 1, parts.length, parts.slice(this.segments.length - 1).join('::'));
    }
    const tokens: Record<string, string> = {};
    for (let i = 0; i < this.segments.length; i++) {
      const s = this.segments[i];
      if ('literal' in s) {
        if (s.literal !== parts[i]) return undefined;
      } else {
        if (parts[i] === '') return undefined;
        tokens[s.token] = parts[i];
      }
    }
    return tokens;
  }

  /** Builds a tag from token values. */
  instantiate(tokens: Record<string, string>): string {
    return this.segments.map((s) => ('literal' in s ? s.literal : tokens[s.token] ?? missing(this.def.pattern, s.token))).join('::');
  }

  /** A SQL LIKE pattern matching every tag of this shape (for lookups by pattern). */
  toSqlLike(): string {
    return this.segments.map((s) => ('literal' in s ? s.literal.replace(/[%_\\]/g, (c) => `\\${c}`) : '%')).join('::');
  }
}

function missing(pattern: string, token: string): never {
  throw new StratoError(SysErrors.INVALID_ARGUMENT_ERROR, `system tag ${pattern} needs a value for {${token}}`);
}
