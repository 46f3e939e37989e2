import { createHash } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AccessKeyRequest } from '../contracts/identity.ts';
import type { ApiDef } from '../core/api/define-api.ts';
import type { ApiRegistry } from '../core/api/api-registry.ts';
import type { Caller } from '../core/bus/context.ts';
import { IdentityErrors, StratoError, SysErrors, toErrorCode, type ErrorCode } from '../core/errors/index.ts';
import { isUuid, newUuid } from '../core/util/uuid.ts';
import type { ApiJobStore } from './api-job-store.ts';
import { JobStarts } from './job-starts.ts';
import { buildOpenApi } from './openapi.ts';
import { renderQueryText, renderResult } from './render.ts';
import { paramsFromBody, paramsFromQuery, TransportError, validateParams } from './request-params.ts';
import { deliverWebhook, defaultWebhookOptions, isValidWebhookUrl, type WebhookOptions } from './webhook.ts';

/**
 * The REST front door in ZStack's v1 wire format. It only translates HTTP to API calls:
 * authentication comes from `authenticate`, the work from `dispatch` (the bus); no service logic here.
 */
export interface RestServerDeps {
  apis: ApiRegistry;
  jobs: ApiJobStore;
  log: Logger;
  metrics: Registry;
  /**
   * Resolves the `Authorization` header's credentials to a caller: `OAuth <session>` (ID.1002 for a bad
   * or expired session) or an access-key signed request `ZStack <id>:<signature>` (ID.1001 when refused).
   */
  authenticate(credentials: Credentials): Promise<Caller>;
  /** Runs an API call (on the bus) and resolves with the handler's value. */
  dispatch(api: ApiDef, params: Record<string, unknown>, ctx: CallContext): Promise<unknown>;
  classNameOf(inventory: string): string | undefined;
  webhook?: WebhookOptions;
  /** Default deadlines when neither the API nor `X-API-Timeout` gives one. */
  syncTimeoutMs?: number;
  asyncTimeoutMs?: number;
  /** How long a stop waits for running api jobs (and their webhooks) before closing anyway. Default 10 s. */
  drainTimeoutMs?: number;
  /** How many accepted async jobs may start per event-loop turn (the rest start in later turns). Default 4. */
  jobStartsPerTurn?: number;
  /** Extra routes (bus transport between nodes, console…) mounted on the same server. */
  extraRoutes?: (app: FastifyInstance) => void | Promise<void>;
}

const PREFIX = '/zstack/v1';

export interface CallContext {
  caller?: Caller;
  apiId: string;
  deadline: number;
  /** The client's address (for the audit). */
  clientIp?: string;
}

/** What the `Authorization` header carries: a session, or a request signed with an access key (audited by API and address). */
export type Credentials = { session: string } | { accessKey: AccessKeyRequest & { apiName: string; clientIp: string } };

export async function buildRestServer(deps: RestServerDeps): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 8 * 1024 * 1024, routerOptions: { ignoreTrailingSlash: true, querystringParser: parseFormQuery } });
  const pendingWebhooks = new Set<Promise<unknown>>();
  const starts = new JobStarts(deps.jobStartsPerTurn ?? 4);

  // ZStack's clients send `application/json; charset=utf-8`; curl users sometimes send nothing or text: parse all as JSON.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(new TransportError(400, 'malformed JSON in the request body'), undefined);
    }
  });

  // Transport problems are plain text, as ZStack's RestServer answers them; API errors are JSON 503.
  app.setErrorHandler((err: any, _req, reply) => {
    if (err instanceof TransportError) return reply.code(err.status).type('text/plain; charset=utf-8').send(err.message);
    if (err instanceof StratoError) return reply.code(503).send({ error: err.errorCode });
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) deps.log.error({ err }, 'unhandled error in the REST layer');
    return reply.code(status).type('text/plain; charset=utf-8').send(status === 500 ? 'internal server error' : err.message);
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).type('text/plain; charset=utf-8').send(`no api mapping to ${req.method} ${req.url.split('?')[0]}`);
  });

  const routes = groupRoutes(deps.apis.all());
  for (const [key, apis] of routes) {
    const [method, path] = key.split(' ') as [ApiDef['method'], string];
    app.route({ method, url: PREFIX + toFastifyPath(path), handler: (req, reply) => handleApi(deps, pendingWebhooks, starts, apis, req, reply) });
  }
  // GET /<resources>/{uuid}: the query API's by-uuid form.
  for (const api of deps.apis.all()) {
    if (!api.query) continue;
    app.get(`${PREFIX}${toFastifyPath(api.path)}/:uuid`, (req, reply) => handleApi(deps, pendingWebhooks, starts, [api], req, reply, (req.params as { uuid: string }).uuid));
  }

  app.get(`${PREFIX}/api-jobs/:uuid`, async (req, reply) => {
    const { uuid } = req.params as { uuid: string };
    // ZStack does not authenticate polls (access-key callers poll with `OAuth null`); a job id is an unguessable capability.
    let job = isUuid(uuid) ? await deps.jobs.get(uuid) : undefined;
    // A tenant polling with its session sees only its own jobs: another account's job answers as an unknown one.
    if (job?.accountUuid && !(await mayPoll(deps, req, job.accountUuid))) job = undefined;
    if (!job) return reply.code(404).type('text/plain; charset=utf-8').send(`no job[uuid:${uuid}] found`);
    if (job.state === 'Processing') return reply.code(202).send({});
    if (job.state === 'Failed') return reply.code(503).send(job.result ?? { error: toErrorCode(new Error('unknown failure')) });
    return reply.code(200).send(job.result ?? {});
  });

  app.get(`${PREFIX}/openapi.json`, async () => buildOpenApi(deps.apis.all()));
  app.get('/metrics', async (_req, reply) => reply.type(deps.metrics.contentType).send(await deps.metrics.metrics()));
  if (deps.extraRoutes) await deps.extraRoutes(app);

  app.addHook('onClose', async () => {
    // Let running jobs finish and record their results, but never hang a shutdown on a stuck one:
    // what is still running after the drain is failed by whichever node starts next (takeover).
    let timer: NodeJS.Timeout | undefined;
    const drained = new Promise<void>((r) => { timer = setTimeout(r, deps.drainTimeoutMs ?? 10_000); timer.unref(); });
    await Promise.race([Promise.allSettled([...pendingWebhooks]), drained]);
    clearTimeout(timer);
  });
  return app;
}

async function handleApi(deps: RestServerDeps, pendingWebhooks: Set<Promise<unknown>>, starts: JobStarts, candidates: ApiDef[], req: FastifyRequest, reply: FastifyReply, byUuid?: string): Promise<unknown> {
  const api = pickApi(candidates, req.body);
  const params: Record<string, unknown> = req.method === 'GET' || req.method === 'DELETE' ? paramsFromQuery(api, req.query as Record<string, string | string[]>) : paramsFromBody(api, req.body);
  Object.assign(params, req.params as Record<string, string>);
  if (byUuid !== undefined) {
    delete params.uuid;
    params.q = [...((params.q as string[] | undefined) ?? []), `uuid=${byUuid}`];
  }

  const jobHeader = header(req, 'x-job-uuid');
  if (jobHeader !== undefined && !isUuid(jobHeader)) throw new TransportError(400, `invalid X-Job-UUID [${jobHeader}]: it must be 32 lower-case hex characters`);
  const webhook = header(req, 'x-web-hook');
  if (webhook !== undefined && !isValidWebhookUrl(webhook)) throw new TransportError(400, `invalid X-Web-Hook [${webhook}]: it must be an http(s) URL`);
  const timeoutHeader = header(req, 'x-api-timeout');
  if (timeoutHeader !== undefined && !/^\d+$/.test(timeoutHeader)) throw new TransportError(400, `invalid X-API-Timeout [${timeoutHeader}]: it must be milliseconds`);

  const caller = api.noSession ? undefined : await deps.authenticate(credentialsOf(req, api, byUuid !== undefined));

  validateParams(api, params);

  const timeoutMs = timeoutHeader !== undefined ? Number(timeoutHeader) : api.timeoutMs ?? (api.kind === 'sync' ? deps.syncTimeoutMs ?? 300_000 : deps.asyncTimeoutMs ?? 1_800_000);
  const deadline = Date.now() + timeoutMs;

  if (api.kind === 'sync') {
    const apiId = jobHeader ?? newUuid();
    const value = await deps.dispatch(api, params, { caller, apiId, deadline, clientIp: req.ip });
    // Query replies are written as text (same bytes as serialising renderResult's body; see renderQueryText).
    const text = api.query ? renderQueryText(api, value, deps.classNameOf) : undefined;
    if (text !== undefined) return reply.code(200).type('application/json; charset=utf-8').send(text);
    return reply.code(200).send(renderResult(api, value, deps.classNameOf));
  }

  const jobUuid = jobHeader ?? newUuid();
  const location = `${req.protocol}://${req.host}${PREFIX}/api-jobs/${jobUuid}`;
  const created = await deps.jobs.create({ uuid: jobUuid, apiName: api.name, accountUuid: caller?.accountUuid, webhook });
  if (created) {
    const run = runJob(deps, starts, api, params, { caller, apiId: jobUuid, deadline, clientIp: req.ip }, webhook);
    pendingWebhooks.add(run);
    void run.finally(() => pendingWebhooks.delete(run));
  }
  return reply.code(202).send({ location, apiTimeout: timeoutMs });
}

async function runJob(deps: RestServerDeps, starts: JobStarts, api: ApiDef, params: Record<string, unknown>, ctx: CallContext, webhook: string | undefined): Promise<void> {
  let outcome: { success: true; body: Record<string, unknown> } | { success: false; error: ErrorCode };
  try {
    await starts.turn();
    const value = await deps.dispatch(api, params, ctx);
    outcome = { success: true, body: renderResult(api, value, deps.classNameOf) };
  } catch (e) {
    outcome = { success: false, error: toErrorCode(e) };
  }
  try {
    await deps.jobs.complete(ctx.apiId, outcome);
  } catch (e) {
    deps.log.error({ err: e, job: ctx.apiId }, 'failed to record an api job result');
  }
  if (webhook) await deliverWebhook(webhook, ctx.apiId, outcome.success, outcome.success ? outcome.body : { error: outcome.error }, deps.log, deps.webhook ?? defaultWebhookOptions);
}

/**
 * `Authorization: OAuth <session uuid>`, or ZStack's access-key form `ZStack <AccessKeyId>:<signature>`
 * with the `Date` header that was signed (reference/zstack-java-sdk-wire.md §1.7).
 */
function credentialsOf(req: FastifyRequest, api: ApiDef, byUuid: boolean): Credentials {
  const auth = header(req, 'authorization');
  if (auth === undefined) throw new TransportError(400, 'missing the Authorization header: send "Authorization: OAuth <session uuid>" or a signed "Authorization: ZStack <AccessKeyId>:<signature>"');
  const oauth = /^OAuth\s+(\S+)$/.exec(auth);
  if (oauth) return { session: oauth[1] };
  const signed = /^ZStack\s+([^:\s]+):(\S+)$/.exec(auth);
  if (!signed) throw new TransportError(400, 'malformed Authorization header: expected "OAuth <session uuid>" or "ZStack <AccessKeyId>:<signature>"');
  const date = header(req, 'date');
  if (date === undefined) throw new TransportError(400, 'a signed request needs the Date header it was signed with');
  const asRequested = req.url.split('?')[0].replace(/^\/zstack/, '');
  let decoded = asRequested;
  try {
    decoded = decodeURIComponent(asRequested);
  } catch {
    /* keep it as requested */
  }
  const template = `/v1${api.path}${byUuid ? '/{uuid}' : ''}`;
  const fingerprint = createHash('sha256').update(`${req.method}\n${req.url}\n${req.body === undefined ? '' : JSON.stringify(req.body)}`).digest('hex');
  return { accessKey: { accessKeyId: signed[1], signature: signed[2], method: req.method, date, paths: [...new Set([asRequested, decoded, template])], fingerprint, apiName: api.name, clientIp: req.ip } };
}

/** Polls without a usable session keep ZStack's behaviour (the job id is the capability); a normal account's session reaches only its own jobs. */
async function mayPoll(deps: RestServerDeps, req: FastifyRequest, jobAccountUuid: string): Promise<boolean> {
  const session = /^OAuth\s+([0-9a-f]{32})$/.exec(header(req, 'authorization') ?? '')?.[1];
  if (session === undefined) return true;
  const caller = await deps.authenticate({ session }).catch(() => undefined);
  return caller === undefined || caller.accountType === 'SystemAdmin' || caller.accountUuid === jobAccountUuid;
}

/** Several action APIs share `PUT …/{uuid}/actions`; the body's single key names the action. */
function pickApi(candidates: ApiDef[], body: unknown): ApiDef {
  if (candidates.length === 1) return candidates[0];
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    const keys = Object.keys(body as object).filter((k) => k !== 'systemTags' && k !== 'userTags');
    const match = candidates.find((a) => a.bodyKey !== null && keys.includes(a.bodyKey));
    if (match) return match;
  }
  throw new TransportError(400, `the request body must have one of the keys ${candidates.map((a) => `"${a.bodyKey}"`).join(', ')}`);
}

function groupRoutes(apis: ApiDef[]): Map<string, ApiDef[]> {
  const m = new Map<string, ApiDef[]>();
  for (const api of apis) {
    const key = `${api.method} ${api.path}`;
    const list = m.get(key) ?? [];
    if (list.length > 0 && (api.method === 'GET' || api.method === 'DELETE')) throw new Error(`two APIs on ${key}: ${list[0].name} and ${api.name}`);
    list.push(api);
    m.set(key, list);
  }
  return m;
}

function toFastifyPath(path: string): string {
  return path.replace(/\{([A-Za-z0-9_]+)\}/g, ':$1');
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Query strings decode with form rules (`+` is a space), as ZStack's SDKs encode them; repeated keys become arrays. */
function parseFormQuery(qs: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of new URLSearchParams(qs)) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

export { IdentityErrors, SysErrors };
