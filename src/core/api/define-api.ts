import { Type, type TObject, type TProperties, type Static } from '@sinclair/typebox';

/**
 * One definition per API drives the REST route, input validation, the OpenAPI document and the CLI.
 * Names, paths and body keys are ZStack's, so ZStack's SDKs work unchanged.
 *
 * @example
 *   export const CreateZone = defineApi({
 *     name: 'CreateZone', service: 'zone', kind: 'async',
 *     method: 'POST', path: '/zones', bodyKey: 'params',
 *     params: { name: Type.String({ maxLength: 255 }), description: Type.Optional(Type.String()) },
 *     result: { inventory: 'ZoneInventory' },
 *   });
 */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export type ApiResult =
  /** `{"inventory": {...}}` typed by an inventory declaration. */
  | { inventory: string }
  /** `{"inventories": [...]}`. */
  | { inventories: string }
  /** Arbitrary top-level fields (e.g. `{"valid": true}`). */
  | { fields: TProperties }
  /** `{}` (deletes). */
  | { none: true };

export interface ApiDefInput<P extends TProperties> {
  /** ZStack's API name without `API`/`Msg`: `CreateZone`. The CLI calls it by this name. */
  name: string;
  /** The bus service that handles it. */
  service: string;
  /** async: 202 + api-job polling; sync: 200 at once. */
  kind: 'async' | 'sync';
  method: HttpMethod;
  /** Path under `/zstack/v1`, with `{var}` placeholders copied into params. */
  path: string;
  /**
   * Key wrapping the parameters in the JSON body: `params` for creates, the action name for
   * `PUT …/actions` (defaults to the API name with a lower-case first letter). `null`: no body.
   * GET and DELETE never have a body: their parameters come from the path and the query string.
   */
  bodyKey?: string | null;
  params: P;
  /** The parameter naming the resource the API acts on: routes the message to its owner node and queue. */
  resourceUuidParam?: keyof P & string;
  result: ApiResult;
  /** Callable without a session (login). */
  noSession?: boolean;
  /** Refused to non-admin accounts (enforced by the permission interceptor). */
  adminOnly?: boolean;
  /** Accepts `systemTags`/`userTags`/`resourceUuid` (creates); ZStack's APICreateMessage. */
  create?: boolean;
  /** The resource type tags on a create attach to (`ZoneVO`). */
  tagResourceType?: string;
  /** Default timeout for the whole call. */
  timeoutMs?: number;
  description: string;
}

export interface ApiDef<P extends TProperties = TProperties> extends Required<Pick<ApiDefInput<P>, 'name' | 'service' | 'kind' | 'method' | 'path' | 'params' | 'result' | 'description'>> {
  bodyKey: string | null;
  resourceUuidParam?: string;
  noSession: boolean;
  adminOnly: boolean;
  create: boolean;
  tagResourceType?: string;
  timeoutMs?: number;
  /** The full parameter schema (declared params + tags for creates), closed to extra fields. */
  schema: TObject;
  /** Set for query APIs: the inventory they read. */
  query?: QueryApiInfo;
}

export type ApiParams<A> = A extends ApiDef<infer P> ? Static<TObject<P>> & CommonParams : never;

export interface CommonParams {
  systemTags?: string[];
  userTags?: string[];
  resourceUuid?: string;
  deleteMode?: 'Permissive' | 'Enforcing';
}

const UUID = '^[0-9a-f]{32}$';

export function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

export function defineApi<P extends TProperties>(input: ApiDefInput<P>): ApiDef<P> {
  const extra: TProperties = {
    systemTags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 4096 }), { maxItems: 256 })),
    userTags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 4096 }), { maxItems: 256 })),
  };
  if (input.create) extra.resourceUuid = Type.Optional(Type.String({ pattern: UUID, description: 'client-chosen uuid of the new resource' }));
  if (input.method === 'DELETE') extra.deleteMode = Type.Optional(Type.Union([Type.Literal('Permissive'), Type.Literal('Enforcing')]));
  const bodyKey = input.bodyKey !== undefined ? input.bodyKey : input.method === 'GET' || input.method === 'DELETE' ? null : input.path.endsWith('/actions') ? lowerFirst(input.name) : 'params';
  return {
    ...input,
    bodyKey,
    noSession: input.noSession ?? false,
    adminOnly: input.adminOnly ?? false,
    create: input.create ?? false,
    schema: Type.Object({ ...input.params, ...extra }, { additionalProperties: false }),
  };
}

/** Schema helpers for the parameter types ZStack uses. */
export const P = {
  uuid: (description?: string) => Type.String({ pattern: UUID, description }),
  name: () => Type.String({ minLength: 1, maxLength: 255 }),
  description: () => Type.Optional(Type.String({ maxLength: 2048 })),
  stateEvent: () => Type.Union([Type.Literal('enable'), Type.Literal('disable')]),
};

/**
 * A query API (`QueryZone` → `GET /zones` and `GET /zones/{uuid}`), answered by the query service
 * from the inventory declaration: ZStack's `q=`, `limit`, `start`, `count`, `replyWithCount`, `sort`, `fields`.
 */
export function defineQueryApi(input: { name: string; inventory: string; path: string; adminOnly?: boolean; description?: string }): ApiDef {
  const api = defineApi({
    name: input.name,
    service: 'query',
    kind: 'sync',
    method: 'GET',
    path: input.path,
    params: {
      q: Type.Optional(Type.Array(Type.String({ maxLength: 8192 }), { maxItems: 64 })),
      limit: Type.Optional(Type.Integer({ minimum: 0, maximum: 10000 })),
      start: Type.Optional(Type.Integer({ minimum: 0 })),
      count: Type.Optional(Type.Boolean()),
      replyWithCount: Type.Optional(Type.Boolean()),
      sort: Type.Optional(Type.String({ maxLength: 256 })),
      sortBy: Type.Optional(Type.String({ maxLength: 256 })),
      sortDirection: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')])),
      fields: Type.Optional(Type.Array(Type.String({ maxLength: 256 }), { maxItems: 256 })),
      groupBy: Type.Optional(Type.String({ maxLength: 256 })),
      filterName: Type.Optional(Type.String({ maxLength: 256 })),
    },
    result: { inventories: input.inventory },
    adminOnly: input.adminOnly,
    description: input.description ?? `Query ${input.inventory.replace(/Inventory$/, '')} resources`,
  });
  return { ...api, query: { inventory: input.inventory } };
}

export interface QueryApiInfo {
  inventory: string;
}
