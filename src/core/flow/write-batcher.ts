import { CompiledQuery, type Kysely } from 'kysely';

interface PendingWrite { sql: string; params: unknown[]; resolve(n: number): void; reject(e: unknown): void }

/**
 * Group commit for the journal on SQLite: writes issued while a batch commits are queued and committed
 * together in one transaction. SQLite has one writer, and a commit costs far more than a statement, so
 * concurrent flows share commits instead of queueing for one each. Every caller still waits for its own
 * write to be committed (the write-ahead guarantee is unchanged); only the commit is shared.
 */
export class WriteBatcher {
  readonly #queue: PendingWrite[] = [];
  #active = false;

  constructor(private readonly db: Kysely<any>, private readonly maxBatch = 256) {}

  /** Resolves with the number of rows the statement changed, once committed. */
  exec(sql: string, params: unknown[]): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ sql, params, resolve, reject });
      if (!this.#active) {
        this.#active = true;
        // One turn of the event loop lets the other flows resumed by the last commit queue their writes.
        setImmediate(() => void this.#drain());
      }
    });
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) await this.#commit(this.#queue.splice(0, this.maxBatch));
    } finally {
      this.#active = false;
    }
  }

  async #commit(batch: PendingWrite[]): Promise<void> {
    if (batch.length > 1) {
      try {
        const counts = await this.db.transaction().execute(async (trx) => {
          const out: number[] = [];
          for (const w of batch) out.push(affected(await trx.executeQuery(CompiledQuery.raw(w.sql, w.params))));
          return out;
        });
        batch.forEach((w, i) => w.resolve(counts[i]));
        return;
      } catch {
        // The whole batch rolled back; replay one by one so a single bad write fails only its own flow.
      }
    }
    for (const w of batch) {
      try {
        w.resolve(affected(await this.db.executeQuery(CompiledQuery.raw(w.sql, w.params))));
      } catch (e) {
        w.reject(e);
      }
    }
  }
}

function affected(r: { numAffectedRows?: bigint }): number {
  return Number(r.numAffectedRows ?? 0n);
}
