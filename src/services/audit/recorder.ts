import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { ApiCallHeaders, type AuthenticationFailure } from '../../contracts/identity.ts';
import type { Interceptor, Message, Reply } from '../../core/bus/index.ts';
import { newUuid } from '../../core/util/uuid.ts';
import { maskSecrets } from './mask.ts';

const MAX_PARAMS_CHARS = 16_384;

/**
 * Records every API call (the bus message the API layer marks as a call's entry) as it is answered,
 * refused ones included: the permission interceptor's refusal is a reply too. Rows are written in
 * batches off the reply path; `flush()` waits for what is pending.
 */
export class AuditRecorder {
  /** When a call was delivered, and its parameters as the caller sent them (before the ownership interceptor masks uuids). */
  readonly #started = new WeakMap<Message, { t0: number; body: unknown }>();
  #pending: Record<string, unknown>[] = [];
  #writing: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Kysely<any>,
    private readonly log: Logger,
  ) {}

  interceptor(): Interceptor {
    return {
      name: 'audit',
      // Runs after the permission check and before the ownership interceptor, which swaps uuids the
      // caller may not touch for fresh ones: what is recorded is what the caller asked for.
      beforeDeliver: (msg) => {
        if (msg.headers[ApiCallHeaders.entry] === '1') this.#started.set(msg, { t0: performance.now(), body: msg.body });
      },
      afterReply: (msg, reply) => {
        if (msg.headers[ApiCallHeaders.entry] !== '1') return;
        // A call refused by the permission check never reached this interceptor's beforeDeliver (nor a swap).
        const started = this.#started.get(msg) ?? { t0: performance.now(), body: msg.body };
        this.#record(msg, started.body, reply, performance.now() - started.t0);
      },
    };
  }

  #record(msg: Message, body: unknown, reply: Reply, ms: number): void {
    // A login has no caller yet: who logged in is what the reply says (never the session uuid itself).
    const v = reply.success ? (reply.value as { accountUuid?: unknown; userUuid?: unknown } | null) : null;
    const loggedIn = !msg.caller && v && typeof v.accountUuid === 'string' ? { accountUuid: v.accountUuid, userUuid: typeof v.userUuid === 'string' ? v.userUuid : null } : undefined;
    let params = JSON.stringify(maskSecrets(body ?? {}));
    if (params.length > MAX_PARAMS_CHARS) params = `${params.slice(0, MAX_PARAMS_CHARS)}…`;
    this.#push({
      uuid: newUuid(),
      apiId: msg.apiId ?? null,
      apiName: msg.type,
      accountUuid: msg.caller?.accountUuid ?? loggedIn?.accountUuid ?? null,
      userUuid: msg.caller?.userUuid ?? loggedIn?.userUuid ?? null,
      accessKeyId: msg.caller?.accessKeyId ?? null,
      clientIp: msg.headers[ApiCallHeaders.clientIp] ?? null,
      params,
      success: reply.success,
      error: reply.success ? null : reply.error.code,
      durationMs: Math.round(ms),
      createDate: Date.now(),
    });
  }

  /** A request refused before it became a call (a bad signature): recorded as a failed call of that API. */
  recordRefusal(f: AuthenticationFailure): void {
    this.#push({ uuid: newUuid(), apiId: null, apiName: f.apiName ?? 'unknown', accountUuid: f.accountUuid ?? null, userUuid: f.userUuid ?? null, accessKeyId: f.accessKeyId.slice(0, 128), clientIp: f.clientIp ?? null, params: JSON.stringify({ refused: f.reason }), success: false, error: f.error, durationMs: 0, createDate: Date.now() });
  }

  #push(row: Record<string, unknown>): void {
    this.#pending.push(row);
    if (this.#pending.length >= 200) this.#write();
    else this.#timer ??= setTimeout(() => this.#write(), 20);
  }

  #write(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const rows = this.#pending;
    if (rows.length === 0) return;
    this.#pending = [];
    this.#writing = this.#writing.then(() =>
      this.db.insertInto('audit_log').values(rows).execute().then(
        () => undefined,
        (err: unknown) => this.log.error({ err, lost: rows.length }, 'failed to write audit records'),
      ),
    );
  }

  /** Writes what is pending and waits for every write started so far. */
  async flush(): Promise<void> {
    this.#write();
    await this.#writing;
  }

  /** Deletes records older than the retention. */
  async purgeOlderThan(cutoff: number): Promise<number> {
    const r = await this.db.deleteFrom('audit_log').where('createDate', '<', cutoff).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
