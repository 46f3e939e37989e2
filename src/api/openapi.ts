import { Type } from '@sinclair/typebox';
import type { ApiDef } from '../core/api/define-api.ts';

/** OpenAPI 3.1 generated from the same API definitions that drive routing and validation. */
export function buildOpenApi(apis: readonly ApiDef[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const ErrorBody = Type.Object({ error: Type.Object({ code: Type.String(), description: Type.String(), details: Type.Optional(Type.String()) }) });
  for (const api of apis) {
    const path = `/zstack/v1${api.path}`;
    const pathVars = [...api.path.matchAll(/\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1]);
    const parameters: unknown[] = pathVars.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } }));
    const bodyProps: Record<string, unknown> = {};
    for (const [name, schema] of Object.entries(api.schema.properties)) {
      if (pathVars.includes(name)) continue;
      if (api.bodyKey === null) parameters.push({ name, in: 'query', required: api.schema.required?.includes(name) ?? false, schema: strip(schema) });
      else bodyProps[name] = strip(schema);
    }
    const op: Record<string, unknown> = {
      operationId: api.name,
      summary: api.description,
      tags: [api.service],
      parameters,
      'x-zstack-kind': api.kind,
      responses: api.kind === 'async'
        ? { 202: { description: 'accepted; poll `location`', content: { 'application/json': { schema: { type: 'object', properties: { location: { type: 'string' }, apiTimeout: { type: 'integer' } } } } } }, 503: { description: 'API error', content: { 'application/json': { schema: ErrorBody } } } }
        : { 200: { description: resultDescription(api) }, 503: { description: 'API error', content: { 'application/json': { schema: ErrorBody } } } },
    };
    if (!api.noSession) op.security = [{ OAuth: [] }];
    if (api.bodyKey !== null) {
      op.requestBody = { required: true, content: { 'application/json': { schema: { type: 'object', required: [api.bodyKey], properties: { [api.bodyKey]: { type: 'object', properties: bodyProps, required: (api.schema.required ?? []).filter((r) => !pathVars.includes(r)), additionalProperties: false } } } } } };
    }
    paths[path] ??= {};
    const method = api.method.toLowerCase();
    const previous = paths[path][method] as Record<string, any> | undefined;
    paths[path][method] = previous ? mergeSharedRoute(previous, op) : { ...op, 'x-zstack-apis': [api.name] };
    if (api.query) {
      // The by-uuid form of a query API: GET /zones/{uuid} is QueryZone with q=uuid=<uuid>.
      const one = { ...op, operationId: `${api.name}ByUuid`, summary: `${api.description} (one, by uuid)`, parameters: [{ name: 'uuid', in: 'path', required: true, schema: { type: 'string' } }, ...parameters] };
      // Merge into the path: DELETE /zones/{uuid} may already be there.
      paths[`${path}/{uuid}`] ??= {};
      paths[`${path}/{uuid}`].get = { ...one, 'x-zstack-apis': [api.name] };
    }
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Strato API (ZStack REST API v1 compatible)', version: '0.1.0' },
    components: { securitySchemes: { OAuth: { type: 'apiKey', in: 'header', name: 'Authorization', description: '"OAuth <session uuid>" from PUT /zstack/v1/accounts/login' } } },
    paths,
  };
}

/**
 * Several actions share `PUT …/{uuid}/actions` (ZStack tells them apart by the body's wrapper key).
 * OpenAPI allows one operation per method and path, so they become one operation whose body is
 * `oneOf` the actions' wrappers, each titled with its API name.
 */
function mergeSharedRoute(previous: Record<string, any>, op: Record<string, any>): Record<string, unknown> {
  const apis = [...(previous['x-zstack-apis'] as string[]), op.operationId as string];
  const bodyOf = (o: Record<string, any>) => o.requestBody?.content?.['application/json']?.schema;
  const variants = [...(bodyOf(previous)?.oneOf ?? [{ ...bodyOf(previous), title: previous['x-zstack-apis'][0] }]), { ...bodyOf(op), title: op.operationId }];
  return {
    ...previous,
    operationId: apis.join('_or_'),
    summary: apis.join(' | '),
    description: apis.map((name, i) => `${name}: body key "${Object.keys(variants[i]?.properties ?? {})[0]}"`).join('; '),
    'x-zstack-apis': apis,
    requestBody: { required: true, content: { 'application/json': { schema: { oneOf: variants } } } },
  };
}

function strip(schema: unknown): unknown {
  return JSON.parse(JSON.stringify(schema));
}

function resultDescription(api: ApiDef): string {
  const r = api.result;
  if ('inventory' in r) return `{"inventory": ${r.inventory}}`;
  if ('inventories' in r) return `{"inventories": [${r.inventories}], "total"?: n, "schema": {...}}`;
  if ('fields' in r) return `{${Object.keys(r.fields).join(', ')}}`;
  return '{}';
}
