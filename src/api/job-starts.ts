/**
 * Paces the start of accepted async jobs: at most `perTurn` per event-loop turn, the others in later
 * turns (in order). A job started in the request's own turn runs its first steps as microtasks before
 * the loop reads the next requests; with thousands accepted at once (a burst of creates) every turn
 * ran the first steps of every job accepted in the previous one: turns of seconds, during which no
 * request was read or answered. Paced, each turn also reads and answers requests; once all are
 * accepted the start rate follows the CPU (a waiting job keeps the loop turning). A burst of 10,000
 * creates (bench:scale, agents 5 s late): last 202 after 171 s unpaced, 18 s paced at 4 a turn;
 * event-loop lag max 3.0 s -> 0.6 s; completion unchanged (196 s, 199 s: CPU-bound).
 *
 * @example
 *   const starts = new JobStarts(4);
 *   await starts.turn(); // at once, or in a later turn when 4 started in this one
 *   await dispatch(job);
 */
export class JobStarts {
  #waiting: Array<() => void> = [];
  #head = 0;
  #startedThisTurn = 0;
  #scheduled = false;

  constructor(private readonly perTurn: number) {}

  /** Resolves when the job may start; undefined (start now) when the turn's budget allows and nobody waits. */
  turn(): Promise<void> | undefined {
    if (this.#head === this.#waiting.length && this.#startedThisTurn < this.perTurn) {
      this.#startedThisTurn++;
      this.#schedule();
      return undefined;
    }
    const p = new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#schedule();
    return p;
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#nextTurn);
  }

  readonly #nextTurn = (): void => {
    this.#scheduled = false;
    this.#startedThisTurn = 0;
    while (this.#head < this.#waiting.length && this.#startedThisTurn < this.perTurn) {
      this.#startedThisTurn++;
      this.#waiting[this.#head++]();
    }
    if (this.#head === this.#waiting.length) {
      this.#waiting = [];
      this.#head = 0;
    }
    // Also when none waits: this turn's count must be reset before the next one starts jobs at once.
    if (this.#startedThisTurn > 0) this.#schedule();
  };
}
