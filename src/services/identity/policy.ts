import type { ApiDef } from '../../core/api/define-api.ts';

/** A policy statement as ZStack has them (`PolicyStatement`). */
export interface PolicyStatement {
  name?: string;
  effect: 'Allow' | 'Deny';
  principals?: string[];
  /** ZStack action names, `*` matching any run of characters: `org.zstack.header.vm.APICreateVmInstanceMsg`, `org.zstack.header.vm.*`. */
  actions: string[];
  /** Resource uuids the statement is limited to (`<uuid>`, `VmInstanceVO:<uuid>`, `*`); none: every resource. */
  resources?: string[];
}

export type Decision = 'Allow' | 'Deny' | 'NoMatch';

/**
 * Deny wins over Allow: one matching Deny refuses the call whatever allows it; otherwise one matching
 * Allow permits it; otherwise nothing matched and the caller's default applies.
 */
export function evaluate(statements: readonly PolicyStatement[], action: string, resourceUuid?: string): Decision {
  let allowed = false;
  for (const s of statements) {
    if (!s.actions.some((p) => matches(p, action)) || !coversResource(s.resources, resourceUuid)) continue;
    if (s.effect === 'Deny') return 'Deny';
    allowed = true;
  }
  return allowed ? 'Allow' : 'NoMatch';
}

const patternCache = new Map<string, RegExp>();

function matches(pattern: string, action: string): boolean {
  if (pattern === '*' || pattern === action) return true;
  if (!pattern.includes('*')) return false;
  let re = patternCache.get(pattern);
  if (re === undefined) {
    re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
    if (patternCache.size > 10_000) patternCache.clear();
    patternCache.set(pattern, re);
  }
  return re.test(action);
}

function coversResource(resources: readonly string[] | undefined, uuid: string | undefined): boolean {
  if (!resources || resources.length === 0) return true;
  return resources.some((r) => {
    const id = r.slice(r.lastIndexOf(':') + 1);
    return id === '*' || (uuid !== undefined && id === uuid);
  });
}

/**
 * ZStack names each API by its message class (`org.zstack.header.vm.APICreateVmInstanceMsg`); policies
 * are written with those names. A Strato API's package is the package of the inventory it returns or
 * reads; APIs that return none take the package most of their service's APIs have.
 */
export class ActionNames {
  readonly #byApi = new Map<string, string>();

  constructor(apis: readonly ApiDef[], classNameOf: (inventory: string) => string | undefined) {
    const packageOf = (api: ApiDef): string | undefined => {
      const inv = api.query?.inventory ?? ('inventory' in api.result ? api.result.inventory : 'inventories' in api.result ? api.result.inventories : undefined);
      const cls = inv ? classNameOf(inv) : undefined;
      return cls ? cls.slice(0, cls.lastIndexOf('.')) : undefined;
    };
    const votes = new Map<string, Map<string, number>>();
    for (const api of apis) {
      const pkg = packageOf(api);
      if (!pkg || api.service === 'query') continue;
      const m = votes.get(api.service) ?? new Map<string, number>();
      m.set(pkg, (m.get(pkg) ?? 0) + 1);
      votes.set(api.service, m);
    }
    const servicePackage = (service: string) => [...(votes.get(service) ?? new Map<string, number>()).entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? `org.zstack.strato.${service.replace(/-/g, '')}`;
    for (const api of apis) this.#byApi.set(api.name, `${packageOf(api) ?? servicePackage(api.service)}.API${api.name}Msg`);
  }

  of(apiName: string): string {
    return this.#byApi.get(apiName) ?? `org.zstack.strato.API${apiName}Msg`;
  }
}
