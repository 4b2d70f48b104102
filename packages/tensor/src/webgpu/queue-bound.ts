/**
 * A bound on the native work queued while the event loop does not turn.
 *
 * Dawn (the `webgpu` npm package) frees what a batch made (bind groups, command buffers) only when
 * Node runs their finalizers, and it processes its own events, in callbacks that the event loop
 * schedules. A training loop that never awaits anything never lets either happen: memory grows by
 * about 1.6 MB a step and, measured on Mesa lavapipe, the process dies with a segmentation fault
 * after about 60,000 bind groups made without a turn (some 210 steps of a small GRU language
 * model; the same count with one bind group per dispatch and nothing else). The limit is the
 * kernel's: on lavapipe each live bind group holds a memory mapping, and a process may have
 * 65,530 (vm.max_map_count). llvmpipe's OpenGL path survived 234,000. (A repeated step's bind
 * groups are reused, not made again: see pool.ts.) Plain submits are cheap: 20,000 of them, with nothing else, did no harm; they
 * are bounded all the same (each holds a command buffer).
 *
 * So the engine counts what it makes between two turns of the event loop, and a callback
 * scheduled on the next turn (setImmediate in Node, where Dawn's own ticks and Node's finalizers
 * run; setTimeout in a browser) resets the count. A microtask would not do: an `await` on an
 * already-settled promise lets neither run.
 *
 * - At {@link WARN} it warns once on stderr.
 * - At {@link LIMIT} the next `backward()` throws before it changes anything: a safe point, where
 *   the model, the optimizer state and every tensor are as they were after the last complete step.
 * - At {@link LAST_RESORT} (loops without backward, such as inference) the next allocation throws.
 *
 * @module
 */

/**
 * What may be made since the event loop last turned before a warning, once. A small language
 * model (Embedding -> GRU with H = 128 -> Linear, B = 16, T = 32, Adam) makes ~280 bind groups a
 * step: reading its loss every 50 steps stays below; every 100 steps (28,000) warns, but runs.
 */
const WARN = { bindGroups: 25_000, submits: 5_000 } as const;
/** ... at which the next safe point (`backward()`) throws: half the measured crash. */
const LIMIT = { bindGroups: 30_000, submits: 10_000 } as const;
/** ... at which any allocation throws: two thirds of the measured crash. */
const LAST_RESORT = { bindGroups: 40_000, submits: 15_000 } as const;

type Counts = { bindGroups: number; submits: number };

const nextTurn: (fn: () => void) => void =
  typeof setImmediate === 'function' ? (fn) => setImmediate(fn) : (fn) => setTimeout(fn, 0);

/** Counts bind groups, submits and safe points (steps) since the event loop last turned. */
export class QueueBound {
  bindGroups = 0;
  submits = 0;
  /** Safe points passed since the last turn: training steps, in a training loop. */
  steps = 0;
  /** The bounds in force (tests lower them to reach them in a few steps). */
  bounds: { warn: Counts; limit: Counts; lastResort: Counts } = { warn: WARN, limit: LIMIT, lastResort: LAST_RESORT };
  private scheduled = false;
  private warned = false;

  /** Notes `n` bind groups made. */
  madeBindGroups(n = 1): void {
    this.bindGroups += n;
    this.arm();
  }

  /** Notes one queue submit. */
  submitted(): void {
    this.submits++;
    this.arm();
  }

  /** Resets the counts on the next turn of the event loop. */
  private arm(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    nextTurn(() => {
      this.scheduled = false;
      this.bindGroups = 0;
      this.submits = 0;
      this.steps = 0;
    });
  }

  /**
   * Called at a safe point (the start of `backward()`): warns once past WARN, throws past LIMIT.
   * @throws Error naming the cause and the cure.
   */
  atSafePoint(): void {
    this.check(this.bounds.limit);
    this.steps++;
  }

  /** Called at every allocation: throws only past LAST_RESORT. */
  atAllocation(): void {
    this.check(this.bounds.lastResort);
  }

  private check(limit: Counts): void {
    const over = this.bindGroups >= limit.bindGroups || this.submits >= limit.submits;
    const { warn } = this.bounds;
    if (!over && !this.warned && (this.bindGroups >= warn.bindGroups || this.submits >= warn.submits)) {
      this.warned = true;
      const at = this.bounds.limit;
      console.warn(
        `${this.describe()}. ${this.cure()} (warned once; at ${at.bindGroups} bind groups or ${at.submits} submits it throws)`,
      );
    }
    if (over) throw new Error(`${this.describe()}. ${this.cure()}`);
  }

  private describe(): string {
    const steps = this.steps > 0 ? ` in ${this.steps} steps` : '';
    return (
      `webgpu: ${this.submits} queue submits and ${this.bindGroups} bind groups${steps} without yielding to the event ` +
      `loop; Dawn frees them only when it turns, and the native layer crashes past about 60000 bind groups`
    );
  }

  private cure(): string {
    // A third of the steps that reach the bound at this loop's rate.
    const { limit } = this.bounds;
    const load = Math.max(this.bindGroups / limit.bindGroups, this.submits / limit.submits);
    const every = this.steps > 0 ? Math.max(1, Math.floor(this.steps / load / 3)) : 0;
    return every > 0
      ? `Await something (e.g. \`await loss.item()\`) at least every ${every} steps`
      : 'Await something (e.g. `await loss.item()` or `await t.data()`) now and then';
  }
}
