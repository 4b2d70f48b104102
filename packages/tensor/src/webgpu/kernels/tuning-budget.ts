/**
 * The autotuner's time bound. Every piece of tuning work (opening the timing device, compiling the
 * candidates, each warm-up, each timed submit, compiling the winner, saving the table) is one
 * **step**: a synchronous start on the calling thread that returns a promise of the work's end.
 * `step` charges the step's wall time to the budget and keeps three promises:
 *
 * 1. A step whose expected length exceeds what is left (or with nothing left) is not started; nor
 *    one where what is left is less than 1.5 times the longest synchronous start so far.
 * 2. A started step is waited for until the **deadline** (its start + what was left) and no longer:
 *    the wait is raced against a timer. Work that has not ended by the deadline is abandoned: its
 *    result is never used (so nothing unfinished counts as tuned) and the step is charged exactly
 *    what was left, so `spentMs` reaches the budget and nothing else starts.
 * 3. A result that arrives after the deadline (the event loop was busy when both were due) is
 *    treated as unfinished too.
 *
 * So `spentMs <= budgetMs`, except for one thing no timer can cut: a step's synchronous start
 * (recording and submitting kernels, creating shader modules) running past the deadline, which
 * rule 1 makes unlikely but cannot rule out (a start 1.5 times longer than any before it). That
 * excess is charged in full and kept apart in `overrunMs`. Abandoned work may still run in the driver's
 * threads (a JIT compile cannot be cancelled): not charged, since the tuner no longer waits for it,
 * but reported in `afterDeadlineMs` (how long after its deadline the last such work ended).
 *
 * ```ts
 * const budget = new TuningBudget(1000);
 * const v = await budget.step(() => new Promise((done) => setTimeout(() => done('ran'), 5)), 5);
 * // 'ran', or CUT: not started, or unfinished at the deadline
 * ```
 */

/** A step starts only where this many times the longest synchronous start so far is left. */
const SYNC_MARGIN = 1.5;

/** What `step` returns for work that was not started, or not finished by the deadline. */
export const CUT: unique symbol = Symbol('cut');

/** A clock and a timer (injected in tests, so the accounting can be checked without wall time). */
export interface Clock {
  now(): number;
  /** Resolves after `ms`; `cancel` drops the timer. */
  timeout(ms: number): { done: Promise<void>; cancel(): void };
}

const wallClock: Clock = {
  now: () => performance.now(),
  timeout(ms) {
    let id: ReturnType<typeof setTimeout> | undefined;
    const done = new Promise<void>((resolve) => {
      id = setTimeout(resolve, ms);
      // A pending deadline must not keep a Node process alive.
      (id as { unref?: () => void }).unref?.();
    });
    return { done, cancel: () => clearTimeout(id) };
  },
};

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

export class TuningBudget {
  /** Wall time charged so far, all steps; and the part spent on the calling thread. */
  spentMs = 0;
  threadMs = 0;
  /** Synchronous starts that ran past their deadline: charged, and counted here too. */
  overrunMs = 0;
  /** Steps abandoned at their deadline; how long after it the last of their work ended. */
  abandoned = 0;
  afterDeadlineMs = 0;
  /** The longest synchronous start so far: no step starts unless SYNC_MARGIN times it is left. */
  private longestStartMs = 0;

  constructor(
    public budgetMs: number,
    private readonly clock: Clock = wallClock,
  ) {}

  left(): number {
    return Math.max(0, this.budgetMs - this.spentMs);
  }

  /**
   * Runs one step of tuning work if `expectedMs` fits in what is left: `start()` begins it and
   * returns a promise of its end. Resolves to its value, or to CUT (not started, or unfinished at
   * the deadline); a step that fails rejects with its error. `late` receives the value of work that
   * ends after it was abandoned (to release what it made, e.g. a device).
   */
  async step<T>(start: () => Promise<T>, expectedMs = 0, late?: (value: T) => void): Promise<T | typeof CUT> {
    const left = this.left();
    if (left <= 0 || Math.max(expectedMs, SYNC_MARGIN * this.longestStartMs) > left) return CUT;
    const t0 = this.clock.now();
    const deadline = t0 + left;
    let work: Promise<T>;
    try {
      work = start();
    } catch (e) {
      this.charge(t0, this.clock.now(), deadline);
      throw e;
    }
    const t1 = this.clock.now();
    this.threadMs += t1 - t0;
    this.longestStartMs = Math.max(this.longestStartMs, t1 - t0);
    const outcome = work.then(
      (value): Outcome<T> => ({ ok: true, value }),
      (error): Outcome<T> => ({ ok: false, error }),
    );
    if (t1 >= deadline) {
      this.charge(t0, t1, deadline);
      this.abandon(outcome, deadline, late);
      return CUT;
    }
    const timer = this.clock.timeout(deadline - t1);
    const r = await Promise.race([outcome, timer.done.then((): typeof CUT => CUT)]);
    timer.cancel();
    const t2 = this.clock.now();
    if (r === CUT || t2 > deadline) {
      this.spentMs += left;
      this.abandon(outcome, deadline, late);
      return CUT;
    }
    this.spentMs += t2 - t0;
    if (!r.ok) throw r.error;
    return r.value;
  }

  /** Charges a step that ended (or threw) on the calling thread: in full, with any excess noted. */
  private charge(t0: number, t1: number, deadline: number): void {
    this.spentMs += t1 - t0;
    if (t1 > deadline) this.overrunMs += t1 - deadline;
  }

  private abandon<T>(outcome: Promise<Outcome<T>>, deadline: number, late?: (value: T) => void): void {
    this.abandoned++;
    void outcome.then((r) => {
      this.afterDeadlineMs = Math.max(this.afterDeadlineMs, this.clock.now() - deadline);
      if (r.ok) late?.(r.value);
    });
  }
}
